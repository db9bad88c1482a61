using System.Net;
using System.Net.Sockets;
using StorSharp.Nbd.Client;

namespace StorSharp.Nbd.Tests.Client;

public class NbdServerAddressTests
{
    [Theory]
    [InlineData("nbd://127.0.0.1/disk0", "127.0.0.1", 10809, "disk0")]
    [InlineData("nbd://127.0.0.1:10900/", "127.0.0.1", 10900, "")]
    [InlineData("nbd://[::1]:2000/a%20b", "::1", 2000, "a b")]
    public void Tcp_uris_give_the_address_port_and_export(string uri, string ip, int port, string export)
    {
        var address = NbdServerAddress.Parse(uri);

        Assert.Equal(new IPEndPoint(IPAddress.Parse(ip), port), address.EndPoint);
        Assert.Equal(export, address.ExportName);
    }

    [Fact]
    public void Host_names_stay_names_and_round_trip()
    {
        var address = NbdServerAddress.Parse("nbd://storage.example:10810/vol");

        Assert.Equal(new DnsEndPoint("storage.example", 10810), address.EndPoint);
        Assert.Equal("nbd://storage.example:10810/vol", address.ToString());
    }

    [Fact]
    public void Unix_uris_take_the_socket_from_the_query()
    {
        var address = NbdServerAddress.Parse("nbd+unix:///disk0?socket=/run/nbd.sock");

        Assert.Equal("/run/nbd.sock", Assert.IsType<UnixDomainSocketEndPoint>(address.EndPoint).ToString());
        Assert.Equal("disk0", address.ExportName);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("disk0", "not a URI")]
    [InlineData("http://x/disk0", "unknown scheme 'http'")]
    [InlineData("nbds://x/disk0", "TLS")]
    [InlineData("nbd+unix:///disk0", "has no socket")]
    [InlineData("nbd+unix://host/disk0?socket=/s", "takes no host")]
    [InlineData("nbd://x/disk0?tls=on", "query parameters")]
    public void Bad_uris_say_what_is_wrong(string uri, string why)
    {
        Assert.False(NbdServerAddress.TryParse(uri, out _, out string? error));
        Assert.Contains(why, error);
        Assert.Contains(why, Assert.Throws<FormatException>(() => NbdServerAddress.Parse(uri)).Message);
    }
}
