using StorSharp.Iscsi.Login;
using StorSharp.Iscsi.Pdu;
using StorSharp.Iscsi.Session;

namespace StorSharp.Iscsi.Connection;

internal sealed partial class IscsiConnection
{
    // ------------------------------------------------------------------ Login (RFC 7143 §6, §11.12, §11.13)

    private void OnLoginRequest(ref PduFrame frame)
    {
        LoginRequestPdu.TryRead(frame.Header, out var req);
        if (_login is null)
        {
            _login = new LoginNegotiator(_server);
            _statSN = req.ExpStatSN; // §11.13.4: the first Login Response sets the connection's starting StatSN
        }
        var login = _login;
        var step = login.Process(req, System.Buffers.BuffersExtensions.ToArray(frame.Data));
        var response = new LoginResponsePdu
        {
            Transit = step.Transit,
            CurrentStage = step.CurrentStage,
            NextStage = step.Transit ? step.NextStage : (byte)0,
            VersionMax = 0,
            VersionActive = 0,
            Isid = req.Isid,
            Tsih = req.Tsih,
            InitiatorTaskTag = req.InitiatorTaskTag,
            Status = step.Status,
        };
        if (step.Failed)
        {
            Log($"login failed: {step.Status} ({step.Reason}); initiator {login.InitiatorName}, target {login.TargetName}");
            response.Transit = false;
            response.NextStage = 0;
            WriteLoginResponse(response, req.CmdSN, []);
            Close("login failed");
            return;
        }
        IscsiSession? session = null;
        if (step.Completed)
        {
            var p = login.Parameters;
            session = _server.Sessions.Add(
                tsih => new IscsiSession(tsih, login.Isid, login.InitiatorName!, login.Discovery ? null : login.Target, p,
                    _options.TargetPortalGroupTag, login.InitialCmdSN, _options.CommandWindow),
                out var replaced);
            session.Connection = this;
            response.Tsih = session.Tsih;
            if (replaced is not null)
            {
                // RFC 7143 §6.3.5: a leading login with the ISID of a live session reinstates it: the old one ends.
                Log($"session reinstatement: closing TSIH {replaced.Tsih}");
                replaced.Connection?.Close("session reinstated by a new login");
            }
        }
        WriteLoginResponse(response, req.CmdSN, step.Text);
        if (session is not null)
        {
            var p = login.Parameters;
            lock (_sendLock)
            {
                _params = p;
                _session = session; // from here on digests apply (§13.1: after the Login Phase)
            }
            _limits = new FrameLimits(p.TargetMaxRecvDataSegmentLength, p.HeaderDigest, p.DataDigest);
            Log($"{(session.IsDiscovery ? "discovery" : "normal")} session TSIH {session.Tsih} for {session.InitiatorName}{(session.Target is { } t ? " on " + t.Name : "")}: {p}");
        }
    }

    private void WriteLoginResponse(LoginResponsePdu response, uint cmdSN, ReadOnlySpan<byte> text)
    {
        lock (_sendLock)
        {
            if (_closed) return;
            response.StatSN = _statSN++;
            response.ExpCmdSN = cmdSN; // login requests are immediate: they do not consume a CmdSN
            response.MaxCmdSN = cmdSN + (uint)_options.CommandWindow - 1;
            Span<byte> bhs = stackalloc byte[Bhs.Size];
            response.WriteTo(bhs);
            WriteFrameLocked(bhs, text);
        }
    }

    private void SendLoginReject(ReadOnlySpan<byte> header, LoginStatus status)
    {
        var response = new LoginResponsePdu
        {
            Isid = Bhs.Isid(header),
            InitiatorTaskTag = Bhs.InitiatorTaskTag(header),
            Status = status,
        };
        WriteLoginResponse(response, Bhs.U32(header, 24), []);
    }
}
