using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StorSharp.Iscsi.Pdu;

namespace StorSharp.Iscsi.Login;

/// <summary>The negotiator's answer to one Login Request.</summary>
internal readonly record struct LoginStep(LoginStatus Status, bool Transit, byte CurrentStage, byte NextStage, byte[] Text, bool Completed, string? Reason = null)
{
    public bool Failed => Status != LoginStatus.Success;
}

/// <summary>
/// The login phase of one connection (RFC 7143 §6, §12, §13): stage transitions, security
/// negotiation with CHAP, and the operational keys. Pure logic over parsed PDUs: no I/O.
/// </summary>
internal sealed class LoginNegotiator
{
    private const int MaxLoginText = 65536;

    private readonly ITargetDirectory _directory;
    private readonly IscsiTargetOptions _options;
    private readonly HashSet<string> _negotiated = new(StringComparer.Ordinal);
    private readonly List<byte> _pending = [];
    private bool _first = true;
    private byte _stage;
    private bool _declaredOperational;
    private bool _sentPortalGroup;

    // Security state.
    private enum AuthState { None, ChapChosen, ChallengeSent, Done }
    private AuthState _auth;
    private bool _authNone;
    private ChapAlgorithm _algorithm;
    private byte _chapId;
    private byte[] _challenge = [];

    public LoginNegotiator(ITargetDirectory directory)
    {
        _directory = directory;
        _options = directory.Options;
        Parameters = new SessionParameters
        {
            TargetMaxRecvDataSegmentLength = 8192,
        };
    }

    public SessionParameters Parameters { get; }
    public string? InitiatorName { get; private set; }
    public string? InitiatorAlias { get; private set; }
    public string? TargetName { get; private set; }
    public TargetEntry? Target { get; private set; }
    public bool Discovery { get; private set; }
    public ulong Isid { get; private set; }
    public ushort Tsih { get; private set; }
    public ushort Cid { get; private set; }
    public uint InitialCmdSN { get; private set; }
    public uint InitialExpStatSN { get; private set; }
    public byte Stage => _stage;

    /// <summary>Test hook: the challenge generator (random by default).</summary>
    public Func<int, byte[]> ChallengeSource { get; set; } = RandomNumberGenerator.GetBytes;

    /// <summary>Handles one Login Request and its data segment.</summary>
    public LoginStep Process(in LoginRequestPdu request, ReadOnlySpan<byte> data)
    {
        if (_first)
        {
            // RFC 7143 §11.12.4: the target answers with the highest version it supports within [min, max].
            if (request.VersionMin > 0) return Fail(LoginStatus.UnsupportedVersion, $"version min {request.VersionMin} > 0");
            Isid = request.Isid;
            Tsih = request.Tsih;
            Cid = request.Cid;
            InitialCmdSN = request.CmdSN;
            InitialExpStatSN = request.ExpStatSN;
            if (request.CurrentStage is not (0 or 1)) return Fail(LoginStatus.InitiatorError, $"first login PDU in stage {request.CurrentStage}");
            _stage = request.CurrentStage;
        }
        else
        {
            // RFC 7143 §6.2: ISID, TSIH and CID do not change within one login.
            if (request.Isid != Isid || request.Tsih != Tsih || request.Cid != Cid)
                return Fail(LoginStatus.InitiatorError, "ISID, TSIH or CID changed during login");
            if (request.CurrentStage != _stage) return Fail(LoginStatus.InitiatorError, $"CSG {request.CurrentStage} while the login is in stage {_stage}");
        }
        if (request.Transit && !ValidTransit(request.CurrentStage, request.NextStage))
            return Fail(LoginStatus.InitiatorError, $"invalid transition {request.CurrentStage} -> {request.NextStage}");

        // RFC 7143 §11.12.2: C bit: the text continues in the next PDU; answer with an empty response.
        if (_pending.Count + data.Length > MaxLoginText) return Fail(LoginStatus.InitiatorError, "login text too long");
        if (request.Continue)
        {
            if (request.Transit) return Fail(LoginStatus.InitiatorError, "T and C both set");
            foreach (var b in data) _pending.Add(b);
            _first = false;
            return new LoginStep(LoginStatus.Success, false, _stage, _stage, [], false);
        }
        byte[] text;
        if (_pending.Count > 0) { foreach (var b in data) _pending.Add(b); text = [.. _pending]; _pending.Clear(); }
        else text = data.ToArray();

        var pairs = new List<KeyValuePair<string, string>>();
        var error = TextKeyReader.Parse(text, pairs, MaxLoginText);
        if (error != TextError.None) return Fail(LoginStatus.InitiatorError, $"malformed login text ({error})");

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, _) in pairs)
            if (!seen.Add(key)) return Fail(LoginStatus.InitiatorError, $"key {key} sent twice");

        var answers = new List<KeyValuePair<string, string>>();
        bool wasFirst = _first;
        if (_first)
        {
            _first = false;
            var step = ProcessLeadingKeys(pairs);
            if (step is { } failed) return failed;
            if (Tsih != 0)
            {
                // MaxConnections is 1: a connection cannot be added to an existing session (RFC 7143 §6.3.5 / §13.2).
                return _directory.SessionExists(Tsih)
                    ? Fail(LoginStatus.TooManyConnections, "MaxConnections=1: the session already has its connection")
                    : Fail(LoginStatus.SessionDoesNotExist, $"no session with TSIH {Tsih}");
            }
            if (_stage == 1 && AuthRequired) return Fail(LoginStatus.AuthenticationFailure, "the target requires CHAP but the initiator skipped the security stage");
        }

        foreach (var (key, value) in pairs)
        {
            if (key is "InitiatorName" or "TargetName" or "SessionType")
            {
                if (!wasFirst && !_negotiated.Add(key)) return Fail(LoginStatus.InitiatorError, $"{key} sent again");
                _negotiated.Add(key);
                continue;
            }
            if (key == "InitiatorAlias") { InitiatorAlias = value; continue; }
            if (key == "AuthMethod" || key.StartsWith("CHAP_", StringComparison.Ordinal)) continue; // security keys below
            if (!_negotiated.Add(key)) return Fail(LoginStatus.InitiatorError, $"key {key} negotiated twice");
            string answer = NegotiateOperational(key, value);
            if (answer != NoAnswer) answers.Add(new(key, answer));
        }

        if (_stage == 0)
        {
            var security = ProcessSecurity(pairs, answers);
            if (security is { } failed) return failed;
        }
        else if (pairs.Any(p => p.Key == "AuthMethod" || p.Key.StartsWith("CHAP_", StringComparison.Ordinal)))
        {
            return Fail(LoginStatus.InitiatorError, "security keys in the operational stage");
        }

        // Declarations (RFC 7143 §13.9: TargetPortalGroupTag in the first response of a Normal session).
        if (!Discovery && !_sentPortalGroup)
        {
            // A key answers once per response: if the initiator (wrongly) sent one of these, its Reject stands.
            if (!answers.Any(a => a.Key == "TargetPortalGroupTag"))
                answers.Add(new("TargetPortalGroupTag", _options.TargetPortalGroupTag.ToString(CultureInfo.InvariantCulture)));
            if (Target?.Definition.Alias is { } alias && !answers.Any(a => a.Key == "TargetAlias")) answers.Add(new("TargetAlias", alias));
            _sentPortalGroup = true;
        }
        if (_stage == 1 && !_declaredOperational)
        {
            // §13.12: MaxRecvDataSegmentLength is declarative per direction.
            answers.Add(new("MaxRecvDataSegmentLength", _options.MaxRecvDataSegmentLength.ToString(CultureInfo.InvariantCulture)));
            Parameters.TargetMaxRecvDataSegmentLength = _options.MaxRecvDataSegmentLength;
            _declaredOperational = true;
        }

        bool transit = false;
        byte next = _stage;
        if (request.Transit)
        {
            if (_stage == 0 && !AuthSatisfied)
            {
                if (_auth is AuthState.None && !_authNone)
                    return Fail(LoginStatus.AuthenticationFailure, "no authentication method agreed");
                // CHAP is still running: stay in the security stage (T=0) until the response arrives.
            }
            else
            {
                transit = true;
                next = request.NextStage;
            }
        }
        byte current = _stage;
        bool completed = false;
        if (transit)
        {
            if (next == 3)
            {
                FinishParameters();
                completed = true;
            }
            _stage = next;
        }
        return new LoginStep(LoginStatus.Success, transit, current, transit ? next : (byte)0, TextKeyWriter.ToBytes(answers), completed);
    }

    private static bool ValidTransit(byte csg, byte nsg) => (csg, nsg) is (0, 1) or (0, 3) or (1, 3);

    private bool AuthRequired => Discovery ? _options.DiscoveryChap is not null : Target?.Definition.Chap is not null;

    private bool AuthSatisfied => _auth == AuthState.Done || (!AuthRequired && (_authNone || _auth == AuthState.None));

    private LoginStep? ProcessLeadingKeys(List<KeyValuePair<string, string>> pairs)
    {
        string? sessionType = null;
        foreach (var (k, v) in pairs)
        {
            if (k == "InitiatorName") InitiatorName = v;
            else if (k == "TargetName") TargetName = v;
            else if (k == "SessionType") sessionType = v;
        }
        // RFC 7143 §13.4/§13.21: InitiatorName always, TargetName for Normal sessions, in the first Login Request.
        if (string.IsNullOrEmpty(InitiatorName)) return Fail(LoginStatus.MissingParameter, "InitiatorName missing from the first Login Request");
        if (sessionType is not (null or "Normal" or "Discovery")) return Fail(LoginStatus.SessionTypeNotSupported, $"SessionType={sessionType}");
        Discovery = sessionType == "Discovery";
        Parameters.Discovery = Discovery;
        if (Discovery) return null;
        if (string.IsNullOrEmpty(TargetName)) return Fail(LoginStatus.MissingParameter, "TargetName missing from the first Login Request of a Normal session");
        Target = _directory.FindTarget(TargetName);
        if (Target is null) return Fail(LoginStatus.NotFound, $"no target {TargetName}");
        if (!Target.Allows(InitiatorName)) return Fail(LoginStatus.AuthorizationFailure, $"{InitiatorName} is not in the ACL of {TargetName}");
        return null;
    }

    // ------------------------------------------------------------------ security stage (RFC 7143 §12)

    private LoginStep? ProcessSecurity(List<KeyValuePair<string, string>> pairs, List<KeyValuePair<string, string>> answers)
    {
        string? Get(string key) => pairs.FirstOrDefault(p => p.Key == key).Value;
        var credentials = Discovery ? _options.DiscoveryChap : Target?.Definition.Chap;
        var mutual = Discovery ? _options.DiscoveryMutualChap : Target?.Definition.MutualChap;

        if (Get("AuthMethod") is { } methods)
        {
            if (_auth != AuthState.None || _authNone) return Fail(LoginStatus.InitiatorError, "AuthMethod negotiated twice");
            var offered = methods.Split(',');
            if (credentials is not null)
            {
                if (!offered.Contains("CHAP"))
                {
                    answers.Add(new("AuthMethod", "Reject"));
                    return Fail(LoginStatus.AuthenticationFailure, $"the target requires CHAP; the initiator offered {methods}");
                }
                answers.Add(new("AuthMethod", "CHAP"));
                _auth = AuthState.ChapChosen;
            }
            else if (offered.Contains("None"))
            {
                answers.Add(new("AuthMethod", "None"));
                _authNone = true;
            }
            else
            {
                return Fail(LoginStatus.AuthenticationFailure, $"the target has no CHAP secret; the initiator offered only {methods}");
            }
        }

        if (Get("CHAP_A") is { } algorithms)
        {
            if (_auth != AuthState.ChapChosen) return Fail(LoginStatus.InitiatorError, "CHAP_A before AuthMethod=CHAP was agreed");
            int chosen = 0;
            foreach (var a in algorithms.Split(','))
                if (Chap.TryParseNumber(a, out long n) && Chap.IsSupported((int)n)) { chosen = (int)n; break; }
            if (chosen == 0)
            {
                answers.Add(new("CHAP_A", "Reject"));
                return Fail(LoginStatus.AuthenticationFailure, $"no supported CHAP algorithm in {algorithms}");
            }
            _algorithm = (ChapAlgorithm)chosen;
            _chapId = ChallengeSource(1)[0];
            _challenge = ChallengeSource(Chap.DigestLength(_algorithm));
            answers.Add(new("CHAP_A", chosen.ToString(CultureInfo.InvariantCulture)));
            answers.Add(new("CHAP_I", _chapId.ToString(CultureInfo.InvariantCulture)));
            answers.Add(new("CHAP_C", Chap.EncodeHex(_challenge)));
            _auth = AuthState.ChallengeSent;
        }

        string? name = Get("CHAP_N"), response = Get("CHAP_R");
        if (name is not null || response is not null)
        {
            if (_auth != AuthState.ChallengeSent || credentials is null) return Fail(LoginStatus.InitiatorError, "CHAP_N/CHAP_R without a challenge");
            if (name is null || response is null) return Fail(LoginStatus.AuthenticationFailure, "CHAP_N or CHAP_R missing");
            if (!Chap.TryDecodeBinary(response, out var got)) return Fail(LoginStatus.AuthenticationFailure, "CHAP_R is not a binary value");
            var expected = Chap.Response(_algorithm, _chapId, Encoding.UTF8.GetBytes(credentials.Secret), _challenge);
            if (name != credentials.User || !Chap.Equal(got, expected))
                return Fail(LoginStatus.AuthenticationFailure, $"CHAP authentication of user '{name}' failed");

            string? mutualId = Get("CHAP_I"), mutualChallenge = Get("CHAP_C");
            if (mutualId is not null || mutualChallenge is not null)
            {
                if (mutualId is null || mutualChallenge is null) return Fail(LoginStatus.AuthenticationFailure, "mutual CHAP needs both CHAP_I and CHAP_C");
                if (mutual is null) return Fail(LoginStatus.AuthenticationFailure, "the initiator asked for mutual CHAP but the target has no mutual secret");
                if (!Chap.TryParseNumber(mutualId, out long id) || id > 255) return Fail(LoginStatus.AuthenticationFailure, "CHAP_I is not 0 to 255");
                if (!Chap.TryDecodeBinary(mutualChallenge, out var challenge) || challenge.Length == 0 || challenge.Length > 1024)
                    return Fail(LoginStatus.AuthenticationFailure, "CHAP_C is not a valid challenge");
                // RFC 7143 §12.1.3: a target must not answer a challenge equal to the one it sent (reflection attack).
                if (challenge.AsSpan().SequenceEqual(_challenge)) return Fail(LoginStatus.AuthenticationFailure, "the initiator reflected the target's CHAP challenge");
                var answer = Chap.Response(_algorithm, (byte)id, Encoding.UTF8.GetBytes(mutual.Secret), challenge);
                answers.Add(new("CHAP_N", mutual.User));
                answers.Add(new("CHAP_R", Chap.EncodeHex(answer)));
            }
            _auth = AuthState.Done;
        }
        return null;
    }

    // ------------------------------------------------------------------ operational keys (RFC 7143 §13)

    private string NegotiateOperational(string key, string value)
    {
        var p = Parameters;
        bool discovery = Discovery;
        switch (key)
        {
            case "HeaderDigest":
            case "DataDigest":
            {
                // §13.1: list; the responder picks the first value it supports.
                foreach (var v in value.Split(','))
                {
                    if (v is "CRC32C" or "None")
                    {
                        bool on = v == "CRC32C";
                        if (key == "HeaderDigest") p.HeaderDigest = on; else p.DataDigest = on;
                        return v;
                    }
                }
                return "Reject";
            }
            case "MaxRecvDataSegmentLength":
                // §13.12: declarative; what the initiator can receive.
                if (!TryNumber(value, 512, 16777215, out long mrdsl)) return "Reject";
                p.InitiatorMaxRecvDataSegmentLength = (int)mrdsl;
                return NoAnswer;
            case "MaxConnections":
                if (discovery) return "Irrelevant";
                return Min(value, 1, 65535, 1, v => p.MaxConnections = v);
            case "InitialR2T":
                if (discovery) return "Irrelevant";
                return Or(value, _options.InitialR2T, v => p.InitialR2T = v);
            case "ImmediateData":
                if (discovery) return "Irrelevant";
                return And(value, _options.ImmediateData, v => p.ImmediateData = v);
            case "MaxBurstLength":
                if (discovery) return "Irrelevant";
                return Min(value, 512, 16777215, _options.MaxBurstLength, v => p.MaxBurstLength = v);
            case "FirstBurstLength":
                if (discovery) return "Irrelevant";
                return Min(value, 512, 16777215, _options.FirstBurstLength, v => p.FirstBurstLength = v);
            case "DefaultTime2Wait":
                return Max(value, 0, 3600, _options.DefaultTime2Wait, v => p.DefaultTime2Wait = v);
            case "DefaultTime2Retain":
                return Min(value, 0, 3600, _options.DefaultTime2Retain, v => p.DefaultTime2Retain = v);
            case "MaxOutstandingR2T":
                if (discovery) return "Irrelevant";
                return Min(value, 1, 65535, _options.MaxOutstandingR2T, v => p.MaxOutstandingR2T = v);
            case "DataPDUInOrder":
                if (discovery) return "Irrelevant";
                // This target can take Data-Out PDUs in order only: our value is Yes, and OR makes the result Yes.
                return Or(value, true, v => p.DataPduInOrder = v);
            case "DataSequenceInOrder":
                if (discovery) return "Irrelevant";
                return Or(value, true, v => p.DataSequenceInOrder = v);
            case "ErrorRecoveryLevel":
                // §13.20: min; this target implements level 0 only.
                return Min(value, 0, 2, 0, v => p.ErrorRecoveryLevel = v);
            case "IFMarker":
            case "OFMarker":
                // §13.25: obsolete; answer No (allowed), never NotUnderstood.
                return "No";
            case "IFMarkInt":
            case "OFMarkInt":
                return "Reject";
            case "iSCSIProtocolLevel":
                // RFC 7144 §2.1: numerical, the result is the lower value; this target speaks RFC 7143 (level 1).
                return Min(value, 0, 31, 1, _ => { });
            case "TaskReporting":
                return "RFC3720";
            case "TargetAlias":
            case "TargetAddress":
            case "TargetPortalGroupTag":
                // Target-declared keys sent by the initiator.
                return "Reject";
            default:
                return "NotUnderstood"; // §6.2.1: unknown keys, including X- and X# private keys
        }
    }

    /// <summary>Marker: the key is declarative and needs no answer (removed before sending).</summary>
    private const string NoAnswer = "\0";

    private static bool TryNumber(string value, long min, long max, out long number) =>
        Chap.TryParseNumber(value, out number) && number >= min && number <= max;

    private static string Min(string value, long min, long max, int ours, Action<int> set)
    {
        if (!TryNumber(value, min, max, out long offered)) return "Reject";
        int result = (int)Math.Min(offered, ours);
        set(result);
        return result.ToString(CultureInfo.InvariantCulture);
    }

    private static string Max(string value, long min, long max, int ours, Action<int> set)
    {
        if (!TryNumber(value, min, max, out long offered)) return "Reject";
        int result = (int)Math.Max(offered, ours);
        set(result);
        return result.ToString(CultureInfo.InvariantCulture);
    }

    private static string Or(string value, bool ours, Action<bool> set)
    {
        if (value is not ("Yes" or "No")) return "Reject";
        bool result = value == "Yes" || ours;
        set(result);
        return result ? "Yes" : "No";
    }

    private static string And(string value, bool ours, Action<bool> set)
    {
        if (value is not ("Yes" or "No")) return "Reject";
        bool result = value == "Yes" && ours;
        set(result);
        return result ? "Yes" : "No";
    }

    private void FinishParameters()
    {
        var p = Parameters;
        if (p.FirstBurstLength > p.MaxBurstLength) p.FirstBurstLength = p.MaxBurstLength; // §13.14
    }

    private LoginStep Fail(LoginStatus status, string reason) => new(status, false, _stage, 0, [], false, reason);
}
