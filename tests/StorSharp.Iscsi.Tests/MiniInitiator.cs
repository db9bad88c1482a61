using System.Buffers;
using System.Net;
using System.Net.Sockets;
using StorSharp.Iscsi.Pdu;

namespace StorSharp.Iscsi.Tests;

/// <summary>A received PDU: header and data.</summary>
internal sealed record ReceivedPdu(byte[] Header, byte[] Data)
{
    public IscsiOpcode Opcode => Bhs.Opcode(Header);
    public uint Itt => Bhs.InitiatorTaskTag(Header);
}

/// <summary>
/// A deliberately simple initiator built from the target's own codecs, for protocol tests that
/// need to send what real initiators never would.
/// </summary>
internal sealed class MiniInitiator : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private byte[] _pending = [];

    public uint CmdSN = 1;
    public uint ExpStatSN;
    public uint NextItt = 0x100;
    public bool HeaderDigest, DataDigest;
    public ushort Tsih;
    public ulong Isid = 0x023D_0000_0001;
    public uint MaxCmdSN;

    private MiniInitiator(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<MiniInitiator> ConnectAsync(IPEndPoint endpoint)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(endpoint);
        return new MiniInitiator(client);
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bhs, ReadOnlyMemory<byte> data = default, ReadOnlyMemory<byte> ahs = default, bool? hd = null, bool? dd = null)
    {
        bool h = hd ?? HeaderDigest, d = dd ?? DataDigest;
        var frame = new byte[PduFramer.FrameLength(ahs.Length, data.Length, h, d)];
        PduFramer.Write(frame, bhs.Span, ahs.Span, data.Span, h, d);
        await _stream.WriteAsync(frame);
    }

    public Task SendRawAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

    /// <summary>Reads the next PDU, or null when nothing arrives within the timeout / the target closed.</summary>
    public async Task<ReceivedPdu?> ReceiveAsync(int timeoutMs = 5000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        var limits = new FrameLimits(16 * 1024 * 1024, HeaderDigest, DataDigest);
        var buffer = new byte[256 * 1024];
        while (true)
        {
            if (_pending.Length >= Bhs.Size)
            {
                var status = PduFramer.TryRead(new ReadOnlySequence<byte>(_pending), limits, out var frame, out long consumed);
                if (status == FrameStatus.Complete)
                {
                    byte[] header = new byte[Bhs.Size];
                    ((ReadOnlySpan<byte>)frame.Header).CopyTo(header);
                    var pdu = new ReceivedPdu(header, frame.Data.ToArray());
                    _pending = _pending[(int)consumed..];
                    Track(pdu);
                    return pdu;
                }
                if (status != FrameStatus.NeedMoreData) throw new InvalidDataException($"target sent a bad frame: {status}");
            }
            int n;
            try { n = await _stream.ReadAsync(buffer, cts.Token); }
            catch (OperationCanceledException) { return null; }
            catch (IOException) { return null; }
            if (n == 0) return null;
            _pending = [.. _pending, .. buffer.AsSpan(0, n)];
        }
    }

    private void Track(ReceivedPdu pdu)
    {
        var h = pdu.Header;
        switch (pdu.Opcode)
        {
            case IscsiOpcode.ScsiResponse:
            case IscsiOpcode.NopIn when Bhs.InitiatorTaskTag(h) != Bhs.ReservedTag:
            case IscsiOpcode.TaskManagementResponse:
            case IscsiOpcode.TextResponse:
            case IscsiOpcode.LogoutResponse:
            case IscsiOpcode.Reject:
            case IscsiOpcode.LoginResponse:
            case IscsiOpcode.AsyncMessage:
                ExpStatSN = Bhs.U32(h, 24) + 1;
                break;
            case IscsiOpcode.ScsiDataIn when (h[1] & 1) != 0:
                ExpStatSN = Bhs.U32(h, 24) + 1;
                break;
        }
        if (pdu.Opcode != IscsiOpcode.LoginResponse) MaxCmdSN = Bhs.U32(h, 32);
    }

    /// <summary>True when the target closed the connection (read returns 0) within the timeout.</summary>
    public async Task<bool> WaitClosedAsync(int timeoutMs = 5000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var pdu = await ReceiveAsync((int)Math.Max(1, (deadline - DateTime.UtcNow).TotalMilliseconds));
                if (pdu is null) return !IsOpenProbe();
            }
            catch (InvalidDataException) { }
        }
        return false;
    }

    private bool IsOpenProbe()
    {
        try { return !(_client.Client.Poll(0, SelectMode.SelectRead) && _client.Client.Available == 0); }
        catch (ObjectDisposedException) { return false; }
    }

    public static byte[] Text(params (string Key, string Value)[] pairs) => TextKeyWriter.ToBytes(pairs.Select(p => new KeyValuePair<string, string>(p.Key, p.Value)));

    public static Dictionary<string, string> ParseText(byte[] data)
    {
        var list = new List<KeyValuePair<string, string>>();
        Assert.Equal(TextError.None, TextKeyReader.Parse(data, list));
        var dict = new Dictionary<string, string>();
        foreach (var (k, v) in list) dict[k] = v;
        return dict;
    }

    /// <summary>Logs in straight to the operational stage (no security) and into full feature phase.</summary>
    public async Task<LoginResponsePdu> LoginAsync(string initiator, string? target, params (string, string)[] extra)
    {
        var keys = new List<(string, string)> { ("InitiatorName", initiator) };
        if (target is null) keys.Add(("SessionType", "Discovery")); else keys.Add(("TargetName", target));
        keys.AddRange(extra);
        var req = new LoginRequestPdu { Transit = true, CurrentStage = 1, NextStage = 3, Isid = Isid, InitiatorTaskTag = NextItt++, CmdSN = CmdSN, ExpStatSN = ExpStatSN };
        var bhs = new byte[Bhs.Size];
        req.WriteTo(bhs);
        await SendAsync(bhs, Text([.. keys]), hd: false, dd: false);
        var reply = await ReceiveAsync() ?? throw new InvalidOperationException("no login response");
        LoginResponsePdu.TryRead(reply.Header, out var resp);
        LastLoginText = ParseText(reply.Data);
        if (resp.Status == LoginStatus.Success && resp.Transit && resp.NextStage == 3)
        {
            Tsih = resp.Tsih;
            HeaderDigest = LastLoginText.GetValueOrDefault("HeaderDigest") == "CRC32C";
            DataDigest = LastLoginText.GetValueOrDefault("DataDigest") == "CRC32C";
            MaxCmdSN = resp.MaxCmdSN;
        }
        return resp;
    }

    public Dictionary<string, string> LastLoginText { get; private set; } = [];

    public byte[] CommandHeader(byte[] cdb, uint edtl, bool read, bool write, ulong lun = 0, bool final = true, uint? cmdSN = null, bool immediate = false)
    {
        var cmd = new ScsiCommandPdu
        {
            Final = final, Read = read, Write = write, Attribute = TaskAttribute.Simple, Lun = lun,
            InitiatorTaskTag = NextItt++, ExpectedDataTransferLength = edtl, CmdSN = cmdSN ?? CmdSN++, ExpStatSN = ExpStatSN, Immediate = immediate,
        };
        cdb.AsSpan(0, Math.Min(16, cdb.Length)).CopyTo(cmd.Cdb);
        var bhs = new byte[Bhs.Size];
        cmd.WriteTo(bhs);
        return bhs;
    }

    /// <summary>Sends a command and collects Data-In and the status: (status, data, response PDU or final Data-In, sense).</summary>
    public async Task<(byte Status, byte[] Data, ReceivedPdu Final, byte[] Sense)> ExecuteAsync(byte[] cdb, uint edtl, bool read, byte[]? writeData = null, ulong lun = 0)
    {
        var bhs = CommandHeader(cdb, edtl, read, writeData is not null, lun);
        uint itt = Bhs.InitiatorTaskTag(bhs);
        await SendAsync(bhs, writeData ?? default);
        var data = new MemoryStream();
        while (true)
        {
            var pdu = await ReceiveAsync() ?? throw new InvalidOperationException("no response");
            if (pdu.Itt != itt && pdu.Opcode != IscsiOpcode.Reject) continue;
            switch (pdu.Opcode)
            {
                case IscsiOpcode.ScsiDataIn:
                    data.Position = Bhs.U32(pdu.Header, 40);
                    data.Write(pdu.Data);
                    if ((pdu.Header[1] & 1) != 0) return (pdu.Header[3], data.ToArray(), pdu, []);
                    break;
                case IscsiOpcode.ScsiResponse:
                    byte[] sense = pdu.Data.Length >= 2 ? pdu.Data[2..(2 + Bhs.U16(pdu.Data, 0))] : [];
                    return (pdu.Header[3], data.ToArray(), pdu, sense);
                case IscsiOpcode.Reject:
                    return (0xFF, [], pdu, []);
                default:
                    throw new InvalidOperationException($"unexpected {pdu.Opcode}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await Task.CompletedTask;
    }
}
