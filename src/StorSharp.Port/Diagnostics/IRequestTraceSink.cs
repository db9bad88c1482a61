namespace StorSharp.Port;

/// <summary>
/// Receives every finished request with its stage stamps, and the port's BUSY answers: the hook a
/// trace recorder plugs into (<see cref="StoragePort.TraceSink"/>). Calls come on any thread, on the
/// request path: an implementation copies what it needs and returns at once, without blocking or
/// allocating.
/// </summary>
public interface IRequestTraceSink
{
    /// <summary>
    /// A request is finished and every stamp it will get is on it: called after the reply was sent
    /// when the front end marked it received (<see cref="Adapter.MarkReceived"/>), else when the port
    /// completed it. Called before the SRB goes back to its pool; do not keep it.
    /// </summary>
    void OnRequestFinished(Adapter adapter, Srb srb);

    /// <summary>The miniport answered BUSY (or QUEUE FULL when <paramref name="queueFull"/>) and <paramref name="srb"/> went back in the queue.</summary>
    void OnBusy(Adapter adapter, Srb srb, bool queueFull);
}
