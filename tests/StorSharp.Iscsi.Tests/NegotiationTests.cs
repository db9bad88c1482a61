using System.Text;
using StorSharp.Iscsi.Login;
using StorSharp.Iscsi.Pdu;

namespace StorSharp.Iscsi.Tests;

public sealed class NegotiationTests
{
    private sealed class Directory(IscsiTargetOptions options) : ITargetDirectory
    {
        public IscsiTargetOptions Options { get; } = options;
        public TargetEntry? FindTarget(string name) => Options.Targets.FirstOrDefault(t => t.Name == name) is { } d ? new TargetEntry(d) : null;
        public bool SessionExists(ushort tsih) => tsih == 7;
    }

    private static IscsiTargetOptions Options(ChapCredentials? chap = null, ChapCredentials? mutual = null) => new()
    {
        Targets =
        [
            new IscsiTargetDefinition("iqn.t", []) { Chap = chap, MutualChap = mutual, Alias = "alias" },
            new IscsiTargetDefinition("iqn.acl", []) { AllowedInitiators = ["iqn.ok"] },
        ],
    };

    private static LoginStep Step(LoginNegotiator n, byte csg, byte nsg, bool transit, params (string, string)[] keys)
    {
        var req = new LoginRequestPdu { Transit = transit, CurrentStage = csg, NextStage = nsg, Isid = 1, InitiatorTaskTag = 1, CmdSN = 1 };
        return n.Process(req, MiniInitiator.Text(keys));
    }

    private static Dictionary<string, string> Keys(LoginStep s) => MiniInitiator.ParseText(s.Text);

    [Fact]
    public void Operational_keys_follow_their_result_functions()
    {
        var o = Options();
        var n = new LoginNegotiator(new Directory(o));
        var s = Step(n, 1, 3, true,
            ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t"),
            ("HeaderDigest", "CRC32C,None"), ("DataDigest", "None"),
            ("MaxConnections", "4"), ("InitialR2T", "No"), ("ImmediateData", "Yes"),
            ("MaxRecvDataSegmentLength", "65536"), ("MaxBurstLength", "1048576"), ("FirstBurstLength", "1048576"),
            ("DefaultTime2Wait", "0"), ("DefaultTime2Retain", "60"), ("MaxOutstandingR2T", "16"),
            ("DataPDUInOrder", "No"), ("DataSequenceInOrder", "Yes"), ("ErrorRecoveryLevel", "2"),
            ("IFMarker", "No"), ("OFMarkInt", "2048~8192"), ("X-com.example.key", "1"), ("Bogus", "1"),
            ("TargetAlias", "x"));
        Assert.False(s.Failed, s.Reason);
        Assert.True(s.Completed && s.Transit && s.NextStage == 3);
        var k = Keys(s);
        Assert.Equal("CRC32C", k["HeaderDigest"]);          // list: first supported of the initiator's
        Assert.Equal("None", k["DataDigest"]);
        Assert.Equal("1", k["MaxConnections"]);             // min, MaxConnections=1 honestly
        Assert.Equal("No", k["InitialR2T"]);                // OR (target No)
        Assert.Equal("Yes", k["ImmediateData"]);            // AND
        Assert.Equal("1048576", k["MaxBurstLength"]);       // min
        Assert.Equal("262144", k["FirstBurstLength"]);      // min with the target's 256 KiB
        Assert.Equal("2", k["DefaultTime2Wait"]);           // max
        Assert.Equal("20", k["DefaultTime2Retain"]);        // min
        Assert.Equal("8", k["MaxOutstandingR2T"]);          // min
        Assert.Equal("Yes", k["DataPDUInOrder"]);           // OR with the target's Yes
        Assert.Equal("0", k["ErrorRecoveryLevel"]);         // min with 0
        Assert.Equal("No", k["IFMarker"]);
        Assert.Equal("Reject", k["OFMarkInt"]);
        Assert.Equal("NotUnderstood", k["X-com.example.key"]);
        Assert.Equal("NotUnderstood", k["Bogus"]);
        Assert.Equal("Reject", k["TargetAlias"]);           // target-declared key from the initiator
        Assert.Equal("262144", k["MaxRecvDataSegmentLength"]); // the target's own declaration
        Assert.Equal("1", k["TargetPortalGroupTag"]);
        var again = Keys(Step(new LoginNegotiator(new Directory(o)), 1, 3, true, ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t")));
        Assert.Equal("alias", again["TargetAlias"]);
        var p = n.Parameters;
        Assert.Equal(65536, p.InitiatorMaxRecvDataSegmentLength); // declarative per direction
        Assert.Equal(262144, p.TargetMaxRecvDataSegmentLength);
        Assert.True(p.HeaderDigest);
        Assert.False(p.InitialR2T);
    }

    [Fact]
    public void Initiator_yes_wins_or_and_no_wins_and()
    {
        var n = new LoginNegotiator(new Directory(Options()));
        var k = Keys(Step(n, 1, 3, true, ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t"), ("InitialR2T", "Yes"), ("ImmediateData", "No")));
        Assert.Equal("Yes", k["InitialR2T"]);
        Assert.Equal("No", k["ImmediateData"]);
        Assert.Equal(0, n.Parameters.UnsolicitedLimit);
    }

    [Fact]
    public void Out_of_range_values_are_rejected()
    {
        var n = new LoginNegotiator(new Directory(Options()));
        var k = Keys(Step(n, 1, 3, true, ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t"), ("MaxBurstLength", "100"), ("InitialR2T", "Maybe"), ("HeaderDigest", "MD5")));
        Assert.Equal("Reject", k["MaxBurstLength"]);
        Assert.Equal("Reject", k["InitialR2T"]);
        Assert.Equal("Reject", k["HeaderDigest"]);
    }

    [Theory]
    [InlineData(null, "iqn.t", 0x0207)]
    [InlineData("iqn.i", null, 0x0207)]
    [InlineData("iqn.i", "iqn.none", 0x0203)]
    [InlineData("iqn.i", "iqn.acl", 0x0202)]
    public void Login_failures_have_the_right_status(string? initiator, string? target, int expectedStatus)
    {
        var n = new LoginNegotiator(new Directory(Options()));
        var keys = new List<(string, string)>();
        if (initiator is not null) keys.Add(("InitiatorName", initiator));
        if (target is not null) keys.Add(("TargetName", target));
        Assert.Equal((LoginStatus)expectedStatus, Step(n, 1, 3, true, [.. keys]).Status);
    }

    [Fact]
    public void Acl_admits_listed_initiator_case_insensitively_and_discovery_needs_no_target()
    {
        Assert.False(Step(new LoginNegotiator(new Directory(Options())), 1, 3, true, ("InitiatorName", "IQN.OK"), ("TargetName", "iqn.acl")).Failed);
        var d = Step(new LoginNegotiator(new Directory(Options())), 1, 3, true, ("InitiatorName", "iqn.i"), ("SessionType", "Discovery"), ("MaxBurstLength", "512"));
        Assert.False(d.Failed);
        Assert.Equal("Irrelevant", Keys(d)["MaxBurstLength"]);
        Assert.DoesNotContain("TargetPortalGroupTag", Keys(d).Keys);
    }

    [Fact]
    public void Transit_rules_and_protocol_errors()
    {
        Assert.Equal(LoginStatus.InitiatorError, Step(new LoginNegotiator(new Directory(Options())), 1, 1, true, ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t")).Status);
        Assert.Equal(LoginStatus.InitiatorError, Step(new LoginNegotiator(new Directory(Options())), 3, 3, true, ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t")).Status);
        var twice = new LoginNegotiator(new Directory(Options()));
        Assert.False(Step(twice, 1, 3, false, ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t"), ("MaxBurstLength", "4096")).Failed);
        Assert.Equal(LoginStatus.InitiatorError, Step(twice, 1, 3, true, ("MaxBurstLength", "4096")).Status);
        var version = new LoginNegotiator(new Directory(Options()));
        var req = new LoginRequestPdu { CurrentStage = 1, VersionMin = 1, VersionMax = 2 };
        Assert.Equal(LoginStatus.UnsupportedVersion, version.Process(req, MiniInitiator.Text(("InitiatorName", "iqn.i"))).Status);
        var add = new LoginNegotiator(new Directory(Options()));
        var addReq = new LoginRequestPdu { CurrentStage = 1, NextStage = 3, Transit = true, Tsih = 7 };
        Assert.Equal(LoginStatus.TooManyConnections, add.Process(addReq, MiniInitiator.Text(("InitiatorName", "iqn.i"), ("TargetName", "iqn.t"))).Status);
        var gone = new LoginNegotiator(new Directory(Options()));
        addReq.Tsih = 8;
        Assert.Equal(LoginStatus.SessionDoesNotExist, gone.Process(addReq, MiniInitiator.Text(("InitiatorName", "iqn.i"), ("TargetName", "iqn.t"))).Status);
    }

    [Fact]
    public void Continued_login_text_is_reassembled()
    {
        var n = new LoginNegotiator(new Directory(Options()));
        var all = MiniInitiator.Text(("InitiatorName", "iqn.i"), ("TargetName", "iqn.t"), ("MaxBurstLength", "4096"));
        var first = new LoginRequestPdu { Continue = true, CurrentStage = 1, NextStage = 3 };
        var s1 = n.Process(first, all.AsSpan(0, 10));
        Assert.False(s1.Failed);
        Assert.Empty(s1.Text);
        var last = new LoginRequestPdu { Transit = true, CurrentStage = 1, NextStage = 3 };
        var s2 = n.Process(last, all.AsSpan(10));
        Assert.True(s2.Completed, s2.Reason);
        Assert.Equal("4096", Keys(s2)["MaxBurstLength"]);
    }

    [Theory]
    [InlineData(5, "226dc576c33f04ff9c3a200ffe35f442")]
    [InlineData(6, "ae35ac1694de2cf7e68e790fbface9a28501fed7")]
    [InlineData(7, "024aef34e176668b34ec2bf7f5525e3bf7f0e94d7cec77cb07d08c3d5a8e23ca")]
    public void Chap_response_matches_known_vectors(int algorithmNumber, string expected)
    {
        var challenge = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();
        Assert.Equal(expected, Convert.ToHexStringLower(Chap.Response((ChapAlgorithm)algorithmNumber, 1, Encoding.UTF8.GetBytes("secretsecret"), challenge)));
    }

    [Fact]
    public void Chap_binary_and_number_encodings()
    {
        Assert.True(Chap.TryDecodeBinary("0x0a0B", out var hex));
        Assert.Equal([0x0a, 0x0b], hex);
        Assert.True(Chap.TryDecodeBinary("0bAQI=", out var b64));
        Assert.Equal([1, 2], b64);
        Assert.False(Chap.TryDecodeBinary("1234", out _));
        Assert.True(Chap.TryParseNumber("0x10", out long n) && n == 16);
        Assert.False(Chap.TryParseNumber("-1", out _));
    }

    private static (LoginNegotiator N, byte Id, byte[] Challenge) ChapUpToChallenge(IscsiTargetOptions o, string algorithms = "7,5")
    {
        var n = new LoginNegotiator(new Directory(o)) { ChallengeSource = len => Enumerable.Range(0, len).Select(i => (byte)(i + 1)).ToArray() };
        var s1 = Step(n, 0, 1, true, ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t"), ("AuthMethod", "None,CHAP"));
        Assert.False(s1.Failed, s1.Reason);
        Assert.False(s1.Transit); // CHAP still to do
        Assert.Equal("CHAP", Keys(s1)["AuthMethod"]);
        var s2 = Step(n, 0, 1, false, ("CHAP_A", algorithms));
        var k = Keys(s2);
        Assert.Equal(algorithms.Split(',')[0], k["CHAP_A"]);
        Assert.True(Chap.TryDecodeBinary(k["CHAP_C"], out var challenge));
        return (n, byte.Parse(k["CHAP_I"]), challenge);
    }

    [Fact]
    public void One_way_and_mutual_chap_succeed_and_wrong_secret_fails()
    {
        var o = Options(new ChapCredentials("alice", "alicesecret12"), new ChapCredentials("target", "targetsecret12"));
        var (n, id, challenge) = ChapUpToChallenge(o);
        var response = Chap.Response(ChapAlgorithm.Sha256, id, Encoding.UTF8.GetBytes("alicesecret12"), challenge);
        var myChallenge = new byte[] { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 };
        var s3 = Step(n, 0, 1, true, ("CHAP_N", "alice"), ("CHAP_R", Chap.EncodeHex(response)), ("CHAP_I", "77"), ("CHAP_C", Chap.EncodeHex(myChallenge)));
        Assert.False(s3.Failed, s3.Reason);
        Assert.True(s3.Transit);
        var k = Keys(s3);
        Assert.Equal("target", k["CHAP_N"]);
        Assert.Equal(Chap.EncodeHex(Chap.Response(ChapAlgorithm.Sha256, 77, Encoding.UTF8.GetBytes("targetsecret12"), myChallenge)), k["CHAP_R"]);

        var (bad, badId, badChallenge) = ChapUpToChallenge(o, "5");
        var wrong = Chap.Response(ChapAlgorithm.Md5, badId, Encoding.UTF8.GetBytes("wrongsecret12"), badChallenge);
        Assert.Equal(LoginStatus.AuthenticationFailure, Step(bad, 0, 1, true, ("CHAP_N", "alice"), ("CHAP_R", Chap.EncodeHex(wrong))).Status);
    }

    [Fact]
    public void Reflected_challenge_is_refused()
    {
        var o = Options(new ChapCredentials("alice", "alicesecret12"), new ChapCredentials("target", "targetsecret12"));
        var (n, id, challenge) = ChapUpToChallenge(o);
        var response = Chap.Response(ChapAlgorithm.Sha256, id, Encoding.UTF8.GetBytes("alicesecret12"), challenge);
        var s = Step(n, 0, 1, true, ("CHAP_N", "alice"), ("CHAP_R", Chap.EncodeHex(response)), ("CHAP_I", id.ToString()), ("CHAP_C", Chap.EncodeHex(challenge)));
        Assert.Equal(LoginStatus.AuthenticationFailure, s.Status);
        Assert.Contains("reflected", s.Reason);
    }

    [Fact]
    public void Chap_required_but_skipped_or_not_offered_fails()
    {
        var o = Options(new ChapCredentials("alice", "alicesecret12"));
        Assert.Equal(LoginStatus.AuthenticationFailure, Step(new LoginNegotiator(new Directory(o)), 1, 3, true, ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t")).Status);
        Assert.Equal(LoginStatus.AuthenticationFailure, Step(new LoginNegotiator(new Directory(o)), 0, 1, true, ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t"), ("AuthMethod", "None")).Status);
        var n = new LoginNegotiator(new Directory(o));
        Step(n, 0, 1, false, ("InitiatorName", "iqn.i"), ("TargetName", "iqn.t"), ("AuthMethod", "CHAP"));
        Assert.Equal(LoginStatus.AuthenticationFailure, Step(n, 0, 1, false, ("CHAP_A", "99")).Status);
    }

    [Fact]
    public void Options_validation_refuses_shared_chap_secret_and_bad_luns()
    {
        var o = Options(new ChapCredentials("a", "samesecret123"), new ChapCredentials("b", "samesecret123"));
        Assert.Throws<ArgumentException>(o.Validate);
        var big = new IscsiTargetOptions { FirstBurstLength = 1 << 20, MaxBurstLength = 1 << 19 };
        Assert.Throws<ArgumentException>(big.Validate);
    }
}
