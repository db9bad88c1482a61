using System.Buffers.Binary;
using StorSharp.Port;

namespace StorSharp.Iscsi.Session;

/// <summary>
/// Tells the LUs of a session's target that the session's I_T nexus is gone (SAM-5 §6.3.4; RFC
/// 7143 §4.4.1: the I_T nexus is the session), so a RESERVE(6)/(10) held through it is released
/// (SPC-2 §5.5.1) and its per-nexus state is dropped. The port has no nexus-loss service, so this
/// uses the miniport-specific request path Storport offers: an <see cref="SrbFunction.IoControl"/>
/// SRB per LU carrying an <c>SRB_IO_CONTROL</c> header with the SCSI disk miniport's signature
/// <c>StorShrp</c> and control code 1 (<c>StorSharp.Scsi.ScsiDiskControl.ItNexusLoss</c>; this
/// assembly does not reference the SCSI one, so the layout is repeated here and a test checks the
/// two agree). Miniports that do not know the signature complete it with INVALID_REQUEST, which is
/// ignored.
/// </summary>
internal sealed class NexusLoss : ISrbCompletionHandler
{
    private static readonly NexusLoss s_instance = new();

    /// <summary>SRB_IO_CONTROL: HeaderLength, Signature[8], Timeout, ControlCode, ReturnCode, Length (little-endian).</summary>
    internal const int HeaderLength = 28;

    /// <summary>The control code of I_T NEXUS LOSS.</summary>
    internal const uint ItNexusLossCode = 1;

    /// <summary>Writes the request header.</summary>
    internal static void WriteHeader(Span<byte> header)
    {
        header[..HeaderLength].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(header, HeaderLength);
        "StorShrp"u8.CopyTo(header[4..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], ItNexusLossCode);
    }

    /// <summary>Sends the notice to every LU of <paramref name="session"/>'s target, once per session; the SRBs reach each LU's queue before this returns.</summary>
    public static void Notify(IscsiSession session)
    {
        if (session.Target is not { } target || Interlocked.Exchange(ref session.NexusLost, 1) != 0) return;
        foreach (var lun in target.Luns.Values)
        {
            var srb = SrbPool.Shared.Rent();
            srb.Function = SrbFunction.IoControl;
            srb.Address = lun.Lun.Address;
            srb.Nexus = session.Nexus;
            srb.Direction = DataDirection.Out;
            WriteHeader(srb.Data.Rent(HeaderLength).Span);
            srb.DataTransferLength = HeaderLength;
            srb.CompletionHandler = s_instance;
            try
            {
                lun.Lun.Adapter.Submit(srb);
            }
            catch (InvalidOperationException)
            {
                // The adapter is not running (starting or gone): there is no state to release.
                srb.Release();
            }
        }
    }

    /// <inheritdoc/>
    public void OnSrbCompleted(Srb srb) => srb.Release();
}
