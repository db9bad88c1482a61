using System.Net;
using System.Net.Sockets;

namespace StorSharp.Nbd.Client;

/// <summary>
/// Where a remote NBD export is: a TCP host and port or a Unix socket, and the export name, as
/// written in an NBD URI (the NBD project's uri.md): <c>nbd://host[:port]/export</c> and
/// <c>nbd+unix:///export?socket=PATH</c>.
/// </summary>
/// <param name="EndPoint">A <see cref="DnsEndPoint"/> or <see cref="IPEndPoint"/> for TCP, a <see cref="UnixDomainSocketEndPoint"/> for a Unix socket.</param>
/// <param name="ExportName">The export to ask for; empty asks for the server's default export.</param>
public sealed record NbdServerAddress(EndPoint EndPoint, string ExportName)
{
    /// <summary>The port an <c>nbd://</c> URI means when it names none.</summary>
    public const int DefaultPort = 10809;

    /// <summary>Parses an NBD URI; throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static NbdServerAddress Parse(string uri)
    {
        if (!TryParse(uri, out var address, out string? error))
            throw new FormatException(error);
        return address;
    }

    /// <summary>Parses an NBD URI; on failure <paramref name="error"/> says what is wrong with it.</summary>
    public static bool TryParse(string? uri, out NbdServerAddress address, out string? error)
    {
        address = null!;
        error = null;
        if (string.IsNullOrWhiteSpace(uri))
        {
            error = "The NBD URI is empty: use nbd://host[:port]/export or nbd+unix:///export?socket=PATH.";
            return false;
        }
        if (!Uri.TryCreate(uri, UriKind.Absolute, out Uri? parsed))
        {
            error = $"'{uri}' is not a URI: use nbd://host[:port]/export or nbd+unix:///export?socket=PATH.";
            return false;
        }
        string export = ExportOf(parsed);
        switch (parsed.Scheme)
        {
            case "nbd":
            case "nbd+tcp":
                if (string.IsNullOrEmpty(parsed.Host))
                {
                    error = $"'{uri}' names no host: use nbd://host[:port]/export.";
                    return false;
                }
                if (!string.IsNullOrEmpty(parsed.Query))
                {
                    error = $"'{uri}': query parameters ({parsed.Query}) are not supported with nbd://.";
                    return false;
                }
                int port = parsed.IsDefaultPort || parsed.Port < 0 ? DefaultPort : parsed.Port;
                string host = parsed.Host.Trim('[', ']');
                EndPoint endPoint = IPAddress.TryParse(host, out IPAddress? ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
                address = new NbdServerAddress(endPoint, export);
                return true;
            case "nbd+unix":
                if (!string.IsNullOrEmpty(parsed.Host))
                {
                    error = $"'{uri}': nbd+unix:// takes no host (nbd+unix:///export?socket=PATH).";
                    return false;
                }
                string? socket = SocketOf(parsed.Query);
                if (string.IsNullOrEmpty(socket))
                {
                    error = $"'{uri}' has no socket: use nbd+unix:///export?socket=PATH.";
                    return false;
                }
                address = new NbdServerAddress(new UnixDomainSocketEndPoint(socket), export);
                return true;
            case "nbds":
            case "nbds+unix":
            case "nbds+tcp":
                error = $"'{uri}': TLS (nbds://) is not supported by the NBD backend yet.";
                return false;
            default:
                error = $"'{uri}': unknown scheme '{parsed.Scheme}': use nbd:// or nbd+unix://.";
                return false;
        }
    }

    /// <summary>The address as an NBD URI.</summary>
    public override string ToString()
    {
        string export = Uri.EscapeDataString(ExportName);
        return EndPoint switch
        {
            UnixDomainSocketEndPoint unix => $"nbd+unix:///{export}?socket={unix}",
            IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } ip => $"nbd://[{ip.Address}]:{ip.Port}/{export}",
            IPEndPoint ip => $"nbd://{ip.Address}:{ip.Port}/{export}",
            DnsEndPoint dns => $"nbd://{dns.Host}:{dns.Port}/{export}",
            var other => $"nbd://{other}/{export}",
        };
    }

    private static string ExportOf(Uri uri)
    {
        string path = uri.AbsolutePath;
        if (path.StartsWith('/')) path = path[1..];
        return Uri.UnescapeDataString(path);
    }

    private static string? SocketOf(string query)
    {
        foreach (string part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            if (eq > 0 && part[..eq] == "socket")
                return Uri.UnescapeDataString(part[(eq + 1)..]);
        }
        return null;
    }
}
