using System.Net;

namespace StorSharp.Iscsi;

/// <summary>How an <see cref="IscsiTargetServer"/> listens, what it serves, and the limits it offers in login (RFC 7143 §13).</summary>
public sealed class IscsiTargetOptions
{
    /// <summary>The portals (address and TCP port) to listen on; port 0 binds a free port. Default 127.0.0.1:3260.</summary>
    public IReadOnlyList<IPEndPoint> Portals { get; set; } = [new IPEndPoint(IPAddress.Loopback, 3260)];

    /// <summary>The targets served.</summary>
    public IReadOnlyList<IscsiTargetDefinition> Targets { get; set; } = [];

    /// <summary>When set, discovery sessions must authenticate with CHAP using these credentials.</summary>
    public ChapCredentials? DiscoveryChap { get; set; }

    /// <summary>When set, the target authenticates itself in discovery sessions whose initiator asks for mutual CHAP.</summary>
    public ChapCredentials? DiscoveryMutualChap { get; set; }

    /// <summary>How long a connection may stay silent before the target pings it with a NOP-In; zero disables pings. Default 15 s.</summary>
    public TimeSpan NopInInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the target waits for the NOP-Out answering its ping before it drops the connection. Default 30 s.</summary>
    public TimeSpan NopInTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a login may take before the connection is dropped. Default 30 s.</summary>
    public TimeSpan LoginTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The largest data segment the target accepts, declared as MaxRecvDataSegmentLength (512 to 16777215). Default 256 KiB.</summary>
    public int MaxRecvDataSegmentLength { get; set; } = 256 * 1024;

    /// <summary>The target's MaxBurstLength offer (512 to 16777215). Default 16 MiB - 1, the protocol maximum.</summary>
    public int MaxBurstLength { get; set; } = 16 * 1024 * 1024 - 1;

    /// <summary>The target's FirstBurstLength offer (512 to 16777215, at most <see cref="MaxBurstLength"/>). Default 256 KiB.</summary>
    public int FirstBurstLength { get; set; } = 256 * 1024;

    /// <summary>The target's MaxOutstandingR2T offer (1 to 65535). Default 8.</summary>
    public int MaxOutstandingR2T { get; set; } = 8;

    /// <summary>The target's InitialR2T value: false lets initiators send unsolicited data (result is OR). Default false.</summary>
    public bool InitialR2T { get; set; }

    /// <summary>The target's ImmediateData value (result is AND). Default true.</summary>
    public bool ImmediateData { get; set; } = true;

    /// <summary>The target's DefaultTime2Wait (0 to 3600 s). Default 2.</summary>
    public int DefaultTime2Wait { get; set; } = 2;

    /// <summary>The target's DefaultTime2Retain (0 to 3600 s). Default 20.</summary>
    public int DefaultTime2Retain { get; set; } = 20;

    /// <summary>How many non-immediate commands one session may have outstanding (the CmdSN window, MaxCmdSN - ExpCmdSN + 1). Default 128.</summary>
    public int CommandWindow { get; set; } = 128;

    /// <summary>The largest data transfer one command may carry; larger ones fail with ILLEGAL REQUEST. Default 64 MiB.</summary>
    public int MaxCommandDataLength { get; set; } = 64 * 1024 * 1024;

    /// <summary>The target portal group tag every portal belongs to (RFC 7143 §13.9). Default 1.</summary>
    public ushort TargetPortalGroupTag { get; set; } = 1;

    /// <summary>
    /// The send buffer asked for on each connection (SO_SNDBUF; Linux doubles it), 384 KiB by default;
    /// 0 leaves the kernel's autotuning. With autotuning the buffer grows past a whole 1 MiB Data-In
    /// burst and the sending thread pays for the entire loopback delivery: iscsi-perf 1 MiB reads went
    /// from about 4.4 to about 6.5 GB/s with the fixed buffer (docs/benchmarks.md). For initiators
    /// far away on a fast network the buffer must hold bandwidth x round trip: raise it, or set 0.
    /// </summary>
    public int SendBufferSize { get; set; } = 384 * 1024;

    /// <summary>The clock for NOP-In pings and login timeouts.</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Checks every value and throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        static void Range(string name, long value, long min, long max)
        {
            if (value < min || value > max) throw new ArgumentException($"IscsiTargetOptions.{name} is {value}; it must be {min} to {max}.");
        }
        if (Portals is null || Portals.Count == 0) throw new ArgumentException("IscsiTargetOptions.Portals is empty; give at least one address to listen on.");
        Range(nameof(MaxRecvDataSegmentLength), MaxRecvDataSegmentLength, 512, 16777215);
        Range(nameof(MaxBurstLength), MaxBurstLength, 512, 16777215);
        Range(nameof(FirstBurstLength), FirstBurstLength, 512, MaxBurstLength);
        Range(nameof(MaxOutstandingR2T), MaxOutstandingR2T, 1, 65535);
        Range(nameof(DefaultTime2Wait), DefaultTime2Wait, 0, 3600);
        Range(nameof(DefaultTime2Retain), DefaultTime2Retain, 0, 3600);
        Range(nameof(CommandWindow), CommandWindow, 1, 4096);
        Range(nameof(MaxCommandDataLength), MaxCommandDataLength, 512, int.MaxValue);
        Range(nameof(SendBufferSize), SendBufferSize, 0, 256 * 1024 * 1024);
        if (TargetPortalGroupTag == 0) throw new ArgumentException("IscsiTargetOptions.TargetPortalGroupTag must not be 0.");
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var t in Targets)
        {
            if (string.IsNullOrWhiteSpace(t.Name) || t.Name.Length > 223 || t.Name.Any(char.IsWhiteSpace))
                throw new ArgumentException($"Target name '{t.Name}' is not a valid iSCSI name (RFC 7143 §4.2.7: at most 223 bytes, no spaces).");
            if (!names.Add(t.Name)) throw new ArgumentException($"Target name '{t.Name}' is defined twice.");
            var luns = new HashSet<ulong>();
            foreach (var lun in t.Luns)
            {
                if (lun.LunNumber > 16383) throw new ArgumentException($"Target '{t.Name}': LUN {lun.LunNumber} is above 16383, the largest flat-space LUN.");
                if (!luns.Add(lun.LunNumber)) throw new ArgumentException($"Target '{t.Name}': LUN {lun.LunNumber} is defined twice.");
            }
            if (t.Chap is not null && t.MutualChap is not null && t.Chap.Secret == t.MutualChap.Secret)
                throw new ArgumentException($"Target '{t.Name}': the CHAP and mutual CHAP secrets are equal; RFC 7143 §12.1.3 forbids one secret for both directions.");
            if (t.MutualChap is not null && t.Chap is null)
                throw new ArgumentException($"Target '{t.Name}': MutualChap needs Chap too (mutual CHAP authenticates both sides).");
        }
        if (DiscoveryMutualChap is not null && DiscoveryChap is null)
            throw new ArgumentException("IscsiTargetOptions.DiscoveryMutualChap needs DiscoveryChap too.");
    }
}
