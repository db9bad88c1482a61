using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Server;

/// <summary>What negotiation settled for the transmission phase.</summary>
/// <param name="Export">The export chosen with NBD_OPT_GO or NBD_OPT_EXPORT_NAME.</param>
/// <param name="StructuredReplies">NBD_OPT_STRUCTURED_REPLY was acknowledged.</param>
/// <param name="BaseAllocation">The <c>base:allocation</c> context was selected for this export.</param>
internal sealed record NbdSession(NbdExportState Export, bool StructuredReplies, bool BaseAllocation);

/// <summary>A client broke the protocol in a way that ends the connection.</summary>
internal sealed class NbdProtocolException(string message) : Exception(message);

/// <summary>
/// The fixed-newstyle handshake and option haggling of one connection (proto.md "Fixed newstyle
/// negotiation"). Runs before transmission, one option at a time; not a hot path.
/// </summary>
internal sealed class NbdNegotiation
{
    /// <summary>The id of <c>base:allocation</c> when selected with NBD_OPT_SET_META_CONTEXT.</summary>
    public const uint BaseAllocationContextId = 1;

    /// <summary>The one metadata context the server knows.</summary>
    public const string BaseAllocation = "base:allocation";

    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly NbdServerCore _core;
    private readonly string _peer;
    private bool _structured;
    private bool _noZeroes;
    private string? _metaExport;
    private bool _metaBaseAllocation;

    public NbdNegotiation(PipeReader input, PipeWriter output, NbdServerCore core, string peer)
    {
        _input = input;
        _output = output;
        _core = core;
        _peer = peer;
    }

    /// <summary>Negotiates; null when the client aborted or went away before choosing an export.</summary>
    /// <exception cref="NbdProtocolException">The client broke the protocol; close the connection.</exception>
    public async Task<NbdSession?> RunAsync(CancellationToken cancellationToken)
    {
        Write(NbdHandshake.ServerGreetingLength, static (span, _) =>
        {
            NbdHandshake.TryWriteServerGreeting(span, NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes, out int w);
            return w;
        });
        await _output.FlushAsync(cancellationToken).ConfigureAwait(false);

        // Client flags: an unknown bit means a client we cannot serve (proto.md: "the server MUST close").
        var flagsRead = await _input.ReadAtLeastAsync(NbdHandshake.ClientFlagsLength, cancellationToken).ConfigureAwait(false);
        if (!NbdHandshake.TryReadClientFlags(flagsRead.Buffer, out var clientFlags))
        {
            _input.AdvanceTo(flagsRead.Buffer.Start, flagsRead.Buffer.End);
            return null; // gone before saying anything
        }
        _input.AdvanceTo(flagsRead.Buffer.GetPosition(NbdHandshake.ClientFlagsLength));
        if ((clientFlags & ~NbdClientFlags.Known) != 0)
            throw new NbdProtocolException($"unknown client flags 0x{(uint)clientFlags:X8}");
        _noZeroes = (clientFlags & NbdClientFlags.NoZeroes) != 0;

        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = NbdOptionCodec.TryReadOption(buffer, _core.Options.MaxOptionLength, out var option, out long consumed);
            switch (status)
            {
                case NbdOptionReadStatus.NeedMoreData:
                    _input.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted || result.IsCanceled) return null;
                    continue;
                case NbdOptionReadStatus.BadMagic:
                    _input.AdvanceTo(buffer.Start, buffer.End);
                    throw new NbdProtocolException("an option did not start with IHAVEOPT");
                case NbdOptionReadStatus.TooLarge:
                    _input.AdvanceTo(buffer.GetPosition(consumed));
                    _core.Log($"{_peer}: option {option.Option} carries {option.Length} bytes, over the limit of {_core.Options.MaxOptionLength}; skipping it (NBD_REP_ERR_TOO_BIG).");
                    if (!await SkipAsync(option.Length, cancellationToken).ConfigureAwait(false)) return null;
                    WriteError(option.Option, NbdOptionReplyType.ErrTooBig);
                    await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
                    continue;
            }

            // A whole option: copy its (small) data out of the pipe, then handle it.
            byte[] data = option.Length == 0 ? [] : option.Data.ToArray();
            _input.AdvanceTo(buffer.GetPosition(consumed));
            var session = Handle(option.Option, data, out bool close);
            await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (session is not null || close) return session;
        }
    }

    private NbdSession? Handle(NbdOption option, byte[] data, out bool close)
    {
        close = false;
        switch (option)
        {
            case NbdOption.ExportName:
            {
                // No error reply exists for EXPORT_NAME: an unknown name closes the connection.
                var export = _core.FindExport(Encoding.UTF8.GetString(data))
                    ?? throw new NbdProtocolException($"NBD_OPT_EXPORT_NAME asked for unknown export '{Encoding.UTF8.GetString(data)}'");
                var flags = export.FlagsFor(_structured);
                Write(NbdHandshake.ExportNameReplyLength + NbdHandshake.ExportNameZeroPadding, (span, self) =>
                {
                    NbdHandshake.TryWriteExportNameReply(span, export.Size, flags, self._noZeroes, out int w);
                    return w;
                });
                return CreateSession(export);
            }
            case NbdOption.Abort:
                // proto.md: the server SHOULD reply NBD_REP_ACK, then close.
                WriteAck(option);
                close = true;
                return null;
            case NbdOption.List:
                if (data.Length != 0) { WriteError(option, NbdOptionReplyType.ErrInvalid); return null; }
                foreach (var export in _core.Exports)
                {
                    string name = export.Name;
                    Write(NbdOptionCodec.ReplyHeaderLength + 4 + Encoding.UTF8.GetByteCount(name), (span, _) =>
                    {
                        NbdOptionCodec.TryWriteServer(span, name, out int w);
                        return w;
                    });
                }
                WriteAck(option);
                return null;
            case NbdOption.Info or NbdOption.Go:
                return HandleInfo(option, data);
            case NbdOption.StructuredReply:
                if (data.Length != 0) { WriteError(option, NbdOptionReplyType.ErrInvalid); return null; }
                _structured = true;
                WriteAck(option);
                return null;
            case NbdOption.ListMetaContext or NbdOption.SetMetaContext:
                HandleMetaContext(option, data);
                return null;
            case NbdOption.StartTls:
                // No TLS yet: the option is known but not implemented here, so UNSUP (not POLICY).
                WriteError(option, NbdOptionReplyType.ErrUnsup);
                return null;
            default:
                // EXTENDED_HEADERS, PEEK_EXPORT and anything unknown: NBD_REP_ERR_UNSUP, and carry on.
                WriteError(option, NbdOptionReplyType.ErrUnsup);
                return null;
        }
    }

    private NbdSession? HandleInfo(NbdOption option, byte[] data)
    {
        var status = NbdOptionCodec.TryParseInfoRequest(data, out var nameBytes, out var requests);
        if (status != NbdOptionDataStatus.Valid)
        {
            WriteError(option, status == NbdOptionDataStatus.TooBig ? NbdOptionReplyType.ErrTooBig : NbdOptionReplyType.ErrInvalid);
            return null;
        }
        var export = _core.FindExport(Encoding.UTF8.GetString(nameBytes));
        if (export is null) { WriteError(option, NbdOptionReplyType.ErrUnknown); return null; }

        bool wantName = false, wantDescription = false, wantBlockSize = false;
        for (int i = 0; i < requests.Length / 2; i++)
        {
            switch (NbdOptionCodec.GetInfoRequest(requests, i))
            {
                case NbdInfoType.Name: wantName = true; break;
                case NbdInfoType.Description: wantDescription = true; break;
                case NbdInfoType.BlockSize: wantBlockSize = true; break;
            }
        }

        var flags = export.FlagsFor(_structured);
        Write(NbdOptionCodec.ReplyHeaderLength + 12, (span, _) =>
        {
            NbdOptionCodec.TryWriteInfoExport(span, option, export.Size, flags, out int w);
            return w;
        });
        if (wantName) WriteText(option, NbdInfoType.Name, export.Name);
        if (wantDescription && export.Export.Description is { } description) WriteText(option, NbdInfoType.Description, description);
        // Sent always, as qemu-nbd does. A client that did not ask may send requests of any
        // alignment, so its minimum is 1 (unaligned I/O is served by read-modify-write).
        uint minimum = wantBlockSize ? (uint)export.BlockSize : 1;
        Write(NbdOptionCodec.ReplyHeaderLength + 14, (span, _) =>
        {
            NbdOptionCodec.TryWriteInfoBlockSize(span, option, minimum, export.PreferredBlockSize, export.MaxPayload, out int w);
            return w;
        });
        WriteAck(option);
        return option == NbdOption.Go ? CreateSession(export) : null;
    }

    private void HandleMetaContext(NbdOption option, byte[] data)
    {
        // proto.md: SET_META_CONTEXT before structured replies were negotiated gets NBD_REP_ERR_INVALID.
        if (option == NbdOption.SetMetaContext && !_structured) { WriteError(option, NbdOptionReplyType.ErrInvalid); return; }
        var status = NbdOptionCodec.TryParseMetaContextRequest(data, out var nameBytes, out int count, out var queries);
        if (status != NbdOptionDataStatus.Valid)
        {
            WriteError(option, status == NbdOptionDataStatus.TooBig ? NbdOptionReplyType.ErrTooBig : NbdOptionReplyType.ErrInvalid);
            return;
        }
        var export = _core.FindExport(Encoding.UTF8.GetString(nameBytes));
        if (export is null) { WriteError(option, NbdOptionReplyType.ErrUnknown); return; }

        bool set = option == NbdOption.SetMetaContext;
        if (set)
        {
            // Each SET replaces the previous selection.
            _metaExport = export.Name;
            _metaBaseAllocation = false;
        }
        bool matched = false;
        if (count == 0)
        {
            // LIST with no queries: every context; SET with no queries: none.
            matched = !set;
        }
        for (int i = 0; i < count; i++)
        {
            var query = NbdOptionCodec.NextQuery(ref queries);
            // LIST may ask for a whole namespace ("base:"); SET must name the context exactly.
            if (query.SequenceEqual("base:allocation"u8) || (!set && query.SequenceEqual("base:"u8))) matched = true;
        }
        if (matched)
        {
            if (set) _metaBaseAllocation = true;
            uint id = set ? BaseAllocationContextId : 0; // proto.md: ids in LIST replies carry no meaning; 0
            Write(NbdOptionCodec.ReplyHeaderLength + 4 + BaseAllocation.Length, (span, _) =>
            {
                NbdOptionCodec.TryWriteMetaContext(span, option, id, BaseAllocation, out int w);
                return w;
            });
        }
        WriteAck(option);
    }

    private NbdSession CreateSession(NbdExportState export)
    {
        // A context selected for another export does not carry over (proto.md: the export name of
        // SET_META_CONTEXT must match the one in NBD_OPT_GO).
        bool baseAllocation = _metaBaseAllocation && _structured && string.Equals(_metaExport, export.Name, StringComparison.Ordinal);
        return new NbdSession(export, _structured, baseAllocation);
    }

    private async ValueTask<bool> SkipAsync(long count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            long n = Math.Min(count, result.Buffer.Length);
            _input.AdvanceTo(result.Buffer.GetPosition(n));
            count -= n;
            if (count > 0 && (result.IsCompleted || result.IsCanceled)) return false;
        }
        return true;
    }

    private void WriteText(NbdOption option, NbdInfoType type, string text) =>
        Write(NbdOptionCodec.ReplyHeaderLength + 2 + Encoding.UTF8.GetByteCount(text), (span, _) =>
        {
            NbdOptionCodec.TryWriteInfoText(span, option, type, text, out int w);
            return w;
        });

    private void WriteAck(NbdOption option) => WriteHeaderOnly(option, NbdOptionReplyType.Ack);

    private void WriteError(NbdOption option, NbdOptionReplyType error) => WriteHeaderOnly(option, error);

    private void WriteHeaderOnly(NbdOption option, NbdOptionReplyType type)
    {
        var span = _output.GetSpan(NbdOptionCodec.ReplyHeaderLength);
        NbdOptionCodec.TryWriteReplyHeader(span, option, type, 0, out int written);
        _output.Advance(written);
    }

    private void Write(int size, Func<Span<byte>, NbdNegotiation, int> write)
    {
        var span = _output.GetSpan(size);
        _output.Advance(write(span, this));
    }
}
