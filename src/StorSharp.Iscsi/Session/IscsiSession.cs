using StorSharp.Iscsi.Login;
using StorSharp.Port;

namespace StorSharp.Iscsi.Session;

/// <summary>
/// An iSCSI session (RFC 7143 §3.4): identity (initiator name, ISID, target, TSIH), the I_T
/// nexus the port sees, negotiated parameters and the command sequence window.
/// </summary>
internal sealed class IscsiSession
{
    public IscsiSession(ushort tsih, ulong isid, string initiatorName, TargetEntry? target, SessionParameters parameters, ushort tpgt, uint initialCmdSN, int window)
    {
        Tsih = tsih;
        Isid = isid;
        InitiatorName = initiatorName;
        Target = target;
        Parameters = parameters;
        // SAM-5 / RFC 7143 §4.4.1: initiator port = name + ",i,0x" + ISID; target port = name + ",t,0x" + TPGT.
        Nexus = new InitiatorNexus($"{initiatorName},i,0x{isid:x12}", $"{target?.Name ?? "discovery"},t,0x{tpgt:x4}", tpgt);
        ExpCmdSN = initialCmdSN;
        MaxCmdSN = initialCmdSN + (uint)window - 1;
    }

    public ushort Tsih { get; }
    public ulong Isid { get; }
    public string InitiatorName { get; }
    public TargetEntry? Target { get; }
    public SessionParameters Parameters { get; }
    public InitiatorNexus Nexus { get; }
    public bool IsDiscovery => Target is null;

    /// <summary>The next CmdSN expected (RFC 7143 §4.2.2.1). Written by the receive loop only.</summary>
    public uint ExpCmdSN;

    /// <summary>The highest CmdSN accepted; grows by one for every non-immediate command finished.</summary>
    public uint MaxCmdSN;

    public IscsiConnectionHandle? Connection { get; set; }

    /// <summary>1 once the LUs were told the nexus is gone (<see cref="NexusLoss"/>).</summary>
    public int NexusLost;

    /// <summary>RFC 7143 §4.2.2.1 serial arithmetic: is <paramref name="cmdSN"/> in [ExpCmdSN, MaxCmdSN]?</summary>
    public bool InWindow(uint cmdSN)
    {
        uint exp = Volatile.Read(ref ExpCmdSN), max = Volatile.Read(ref MaxCmdSN);
        return (int)(cmdSN - exp) >= 0 && (int)(max - cmdSN) >= 0;
    }

    public string Key => MakeKey(InitiatorName, Isid, Target?.Name);

    public static string MakeKey(string initiator, ulong isid, string? target) =>
        $"{initiator.ToLowerInvariant()}|{isid:x12}|{target?.ToLowerInvariant()}";
}

/// <summary>What a session needs of its connection (so the session can be closed by reinstatement or shutdown).</summary>
internal interface IscsiConnectionHandle
{
    void Close(string reason);
}

/// <summary>The server's sessions by TSIH and by identity (for reinstatement, RFC 7143 §6.3.5).</summary>
internal sealed class SessionRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ushort, IscsiSession> _byTsih = [];
    private readonly Dictionary<string, IscsiSession> _byKey = [];
    private ushort _nextTsih = 1;

    public bool Exists(ushort tsih) { lock (_lock) return _byTsih.ContainsKey(tsih); }

    public int Count { get { lock (_lock) return _byTsih.Count; } }

    public IscsiSession[] Snapshot() { lock (_lock) return [.. _byTsih.Values]; }

    /// <summary>Creates and registers a session; an existing session with the same identity is returned in <paramref name="replaced"/> for the caller to close (session reinstatement).</summary>
    public IscsiSession Add(Func<ushort, IscsiSession> create, out IscsiSession? replaced)
    {
        lock (_lock)
        {
            ushort tsih;
            do { tsih = _nextTsih++; if (_nextTsih == 0) _nextTsih = 1; } while (tsih == 0 || _byTsih.ContainsKey(tsih));
            var session = create(tsih);
            replaced = null;
            if (!session.IsDiscovery && _byKey.TryGetValue(session.Key, out var old))
            {
                replaced = old;
                _byTsih.Remove(old.Tsih);
            }
            _byTsih[tsih] = session;
            if (!session.IsDiscovery) _byKey[session.Key] = session;
            return session;
        }
    }

    public void Remove(IscsiSession session)
    {
        lock (_lock)
        {
            if (_byTsih.TryGetValue(session.Tsih, out var s) && s == session) _byTsih.Remove(session.Tsih);
            if (_byKey.TryGetValue(session.Key, out var k) && k == session) _byKey.Remove(session.Key);
        }
    }
}
