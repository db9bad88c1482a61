namespace StorSharp.Nbd.Client;

/// <summary>
/// The server broke the protocol (bad magic, an unknown cookie, a length out of bounds, a
/// structured reply that does not fit its request) or refused the handshake. The connection is
/// dropped; requests it concerned fail with a <c>BlockDeviceException</c> that carries this as its inner exception.
/// </summary>
public sealed class NbdProtocolException(string message) : Exception(message)
{
}
