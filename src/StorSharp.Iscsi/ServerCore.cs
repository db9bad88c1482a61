using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StorSharp.Iscsi.Connection;
using StorSharp.Iscsi.Login;
using StorSharp.Iscsi.Session;

namespace StorSharp.Iscsi;

/// <summary>What every connection of a server shares: options, targets, sessions, the log.</summary>
internal sealed class ServerCore : ITargetDirectory
{
    private readonly Dictionary<string, TargetEntry> _targets;
    private readonly Action<string>? _log;
    private readonly ConcurrentDictionary<IscsiConnection, byte> _connections = new();

    public ServerCore(IscsiTargetOptions options, Action<string>? log)
    {
        Options = options;
        _log = log;
        Targets = [.. options.Targets.Select(t => new TargetEntry(t))];
        _targets = Targets.ToDictionary(t => t.Name, StringComparer.OrdinalIgnoreCase);
    }

    public IscsiTargetOptions Options { get; }
    public IReadOnlyList<TargetEntry> Targets { get; }
    public SessionRegistry Sessions { get; } = new();
    public IReadOnlyList<IPEndPoint> BoundPortals { get; set; } = [];

    public TargetEntry? FindTarget(string name) => _targets.GetValueOrDefault(name);
    public bool SessionExists(ushort tsih) => Sessions.Exists(tsih);

    public void Log(string message) => _log?.Invoke(message);

    public void Add(IscsiConnection connection) => _connections.TryAdd(connection, 0);
    public void OnConnectionClosed(IscsiConnection connection) => _connections.TryRemove(connection, out _);
    public ICollection<IscsiConnection> Connections => _connections.Keys;

    /// <summary>TargetAddress values (RFC 7143 §13.8: <c>address:port,tpgt</c>) for every bound portal; a wildcard portal reports the address the initiator reached.</summary>
    public IEnumerable<string> PortalAddresses(IPEndPoint? reachedVia)
    {
        string tpgt = Options.TargetPortalGroupTag.ToString(CultureInfo.InvariantCulture);
        foreach (var portal in BoundPortals)
        {
            var address = portal.Address;
            if ((address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) && reachedVia is not null) address = reachedVia.Address;
            if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
            string host = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
            yield return $"{host}:{portal.Port},{tpgt}";
        }
    }
}
