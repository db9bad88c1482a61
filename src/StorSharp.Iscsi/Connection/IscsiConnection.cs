using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using StorSharp.Iscsi.Login;
using StorSharp.Iscsi.Pdu;
using StorSharp.Iscsi.Session;
using StorSharp.Port;

namespace StorSharp.Iscsi.Connection;

/// <summary>
/// One TCP connection: a receive loop that frames PDUs from a <see cref="PipeReader"/> and handles
/// them synchronously, and a send pump that moves the output pipe to the socket. Replies are
/// written under one lock (which also orders StatSN) from the receive loop and from SRB
/// completions on any thread. The handlers are split by PDU family into partial files.
/// </summary>
internal sealed partial class IscsiConnection : ISrbCompletionHandler, IscsiConnectionHandle
{
    private const long OutputHighWater = 32L * 1024 * 1024;

    private readonly ServerCore _server;
    private readonly IscsiTargetOptions _options;
    private readonly Socket _socket;
    private readonly PipeReader _input;
    private readonly Pipe _output;
    private readonly Lock _sendLock = new();
    private readonly Lock _taskLock = new();
    private readonly Dictionary<uint, IscsiTask> _tasks = [];
    private readonly List<IscsiTask> _held = [];
    private readonly CancellationTokenSource _cts = new();
    private readonly List<ArraySegment<byte>> _gather = [];
    private readonly long _started;

    private LoginNegotiator? _login;
    private IscsiSession? _session;
    private SessionParameters _params = new();
    private FrameLimits _limits;
    private uint _statSN;
    private uint _nextTtt = 1;
    private long _pendingOut;
    private TaskCompletionSource? _drainWaiter;
    private volatile bool _closed;
    private int _closeStarted;
    private long _lastReceive;
    private uint _pingTtt;
    private long _pingSent;
    private ITimer? _timer;
    private long _skip;

    public IscsiConnection(ServerCore server, Socket socket)
    {
        _server = server;
        _options = server.Options;
        _socket = socket;
        socket.NoDelay = true; // peer-benchmarks.md: Nagle plus delayed ACK stalls request/response traffic
        if (_options.SendBufferSize > 0) socket.SendBufferSize = _options.SendBufferSize; // see IscsiTargetOptions.SendBufferSize
        Remote = socket.RemoteEndPoint?.ToString() ?? "?";
        Local = socket.LocalEndPoint as IPEndPoint;
        _input = PipeReader.Create(new NetworkStream(socket, ownsSocket: false), new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024));
        _output = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 64 * 1024, useSynchronizationContext: false));
        _limits = new FrameLimits(Math.Max(8192, _options.MaxRecvDataSegmentLength), false, false);
        _started = _options.Time.GetTimestamp();
        _lastReceive = _started;
    }

    public string Remote { get; }
    public IPEndPoint? Local { get; }
    public bool IsClosed => _closed;

    /// <summary>The session this connection belongs to, once logged in.</summary>
    public IscsiSession? Session => _session;

    private void Log(string message) => _server.Log($"iscsi {Remote}: {message}");

    // ------------------------------------------------------------------ receive loop

    public async Task RunAsync()
    {
        var pump = Task.Run(SendPumpAsync);
        _timer = _options.Time.CreateTimer(static s => ((IscsiConnection)s!).OnTimer(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        try
        {
            var token = _cts.Token;
            while (!_closed)
            {
                var result = await _input.ReadAsync(token).ConfigureAwait(false);
                var buffer = result.Buffer;
                try { Consume(ref buffer); }
                finally { _input.AdvanceTo(buffer.Start, buffer.End); }
                if (result.IsCompleted) { if (!buffer.IsEmpty && !_closed) Log("the initiator closed the connection inside a PDU"); break; }
                if (Volatile.Read(ref _pendingOut) > OutputHighWater) await WaitForOutputDrainAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
        catch (IOException) { }
        catch (SocketException) { }
        catch (Exception ex) { Log($"receive loop failed: {ex}"); }
        finally
        {
            Close("receive loop ended");
            ReleaseReceivingTasks(); // only the receive loop touches tasks that are still receiving
            await _input.CompleteAsync().ConfigureAwait(false);
            await pump.ConfigureAwait(false);
        }
    }

    private void Consume(ref ReadOnlySequence<byte> buffer)
    {
        while (!_closed)
        {
            if (_skip > 0)
            {
                long n = Math.Min(_skip, buffer.Length);
                buffer = buffer.Slice(n);
                _skip -= n;
                if (_skip > 0) return;
            }
            var status = PduFramer.TryRead(buffer, _limits, out var frame, out long consumed);
            switch (status)
            {
                case FrameStatus.NeedMoreData:
                    return;
                case FrameStatus.HeaderDigestError:
                    // RFC 7143 §7.8: a header digest error leaves PDU boundaries unknown; at ERL 0 the connection goes.
                    Close("header digest error");
                    return;
                case FrameStatus.DataSegmentTooLong:
                case FrameStatus.AhsTooLong:
                    // RFC 7143 §13.12: the initiator broke MaxRecvDataSegmentLength. Reject it and skip its
                    // bytes so the stream stays in sync.
                    Log($"{frame.Opcode} with a {status}: rejected and skipped");
                    if (frame.Opcode == IscsiOpcode.ScsiCommand && _session is not null) ConsumeRejectedCommandSN(frame.Header);
                    SendReject(RejectReason.ProtocolError, frame.Header);
                    if (_session is null) { Close("oversized login PDU"); return; }
                    _skip = consumed;
                    continue;
            }
            _lastReceive = _options.Time.GetTimestamp();
            try { HandlePdu(ref frame, status == FrameStatus.DataDigestError); }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log($"handling {frame.Opcode} failed: {ex}");
                Close("internal error");
            }
            buffer = buffer.Slice(consumed);
        }
    }

    private void HandlePdu(ref PduFrame frame, bool dataDigestError)
    {
        var opcode = frame.Opcode;
        if (_session is null)
        {
            if (opcode != IscsiOpcode.LoginRequest)
            {
                // RFC 7143 §6.2: only Login Requests until the login completes.
                SendLoginReject(frame.Header, LoginStatus.InvalidDuringLogin);
                Close($"{opcode} during login");
                return;
            }
            if (dataDigestError) { Close("data digest error during login"); return; }
            OnLoginRequest(ref frame);
            return;
        }
        if (dataDigestError)
        {
            // RFC 7143 §7.8: Reject with "data digest error" and discard the PDU.
            SendReject(RejectReason.DataDigestError, frame.Header);
            OnDiscardedForDigest(ref frame);
            return;
        }
        if (_session.IsDiscovery && opcode is not (IscsiOpcode.TextRequest or IscsiOpcode.LogoutRequest or IscsiOpcode.NopOut))
        {
            // RFC 7143 §4.3: a discovery session carries Text (SendTargets), NOP and Logout only.
            if (opcode == IscsiOpcode.ScsiCommand) ConsumeRejectedCommandSN(frame.Header);
            SendReject(RejectReason.ProtocolError, frame.Header);
            return;
        }
        switch (opcode)
        {
            case IscsiOpcode.ScsiCommand: OnScsiCommand(ref frame); break;
            case IscsiOpcode.ScsiDataOut: OnDataOut(ref frame); break;
            case IscsiOpcode.NopOut: OnNopOut(ref frame); break;
            case IscsiOpcode.TaskManagementRequest: OnTaskManagement(ref frame); break;
            case IscsiOpcode.TextRequest: OnTextRequest(ref frame); break;
            case IscsiOpcode.LogoutRequest: OnLogout(ref frame); break;
            case IscsiOpcode.Snack:
                // ErrorRecoveryLevel 0: no SNACK support (RFC 7143 §11.16, §11.17.1 "SNACK Reject").
                SendReject(RejectReason.SnackReject, frame.Header);
                break;
            case IscsiOpcode.LoginRequest:
                // RFC 7143 §11.12: login in full feature phase is a protocol error.
                SendReject(RejectReason.ProtocolError, frame.Header);
                break;
            default:
                SendReject(RejectReason.CommandNotSupported, frame.Header);
                break;
        }
    }

    // ------------------------------------------------------------------ timers: login timeout, NOP-In pings

    private void OnTimer()
    {
        if (_closed) return;
        var time = _options.Time;
        long now = time.GetTimestamp();
        if (_session is null)
        {
            if (time.GetElapsedTime(_started, now) > _options.LoginTimeout) Close("login timeout");
            return;
        }
        if (_options.NopInInterval <= TimeSpan.Zero) return;
        long sent = Volatile.Read(ref _pingSent);
        if (sent != 0)
        {
            if (time.GetElapsedTime(sent, now) > _options.NopInTimeout) Close("no answer to NOP-In");
            return;
        }
        if (time.GetElapsedTime(Volatile.Read(ref _lastReceive), now) >= _options.NopInInterval) SendPing(now);
    }

    // ------------------------------------------------------------------ closing

    /// <summary>Closes the connection: queued output is still sent, then the socket goes.</summary>
    public void Close(string reason)
    {
        if (Interlocked.Exchange(ref _closeStarted, 1) != 0) return;
        Log($"closing: {reason}");
        lock (_sendLock)
        {
            _closed = true;
            _output.Writer.Complete();
        }
        _timer?.Dispose();
        try { _cts.Cancel(); } catch (ObjectDisposedException) { }
        if (_session is { } s)
        {
            _server.Sessions.Remove(s);
            // ERL 0, one connection per session: the connection's end is the session's, and so
            // the I_T nexus's (SAM-5 §6.3.4).
            NexusLoss.Notify(s);
        }
        lock (_sendLock) { _drainWaiter?.TrySetResult(); }
        _server.OnConnectionClosed(this);
    }

    private void ReleaseReceivingTasks()
    {
        List<IscsiTask>? drop = null;
        lock (_taskLock)
        {
            foreach (var t in _tasks.Values)
                if (t.Phase == TaskPhase.Receiving) (drop ??= []).Add(t);
            if (drop is not null) foreach (var t in drop) _tasks.Remove(t.Itt);
            _held.Clear();
        }
        if (drop is null) return;
        foreach (var t in drop) FinishTask(t);
    }

    private Task WaitForOutputDrainAsync()
    {
        lock (_sendLock)
        {
            if (_closed || Volatile.Read(ref _pendingOut) <= OutputHighWater / 2) return Task.CompletedTask;
            _drainWaiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drainWaiter.Task;
        }
    }
}
