using System.Net;
using System.Net.Sockets;
using StorSharp.Transport;

namespace StorSharp.Transport.Tests;

public sealed class PayloadReaderTests
{
    private static (Socket Client, NetworkStream Server) Connect()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.Connect(listener.LocalEndPoint!);
        return (client, new NetworkStream(listener.Accept(), ownsSocket: true));
    }

    private static int LowWater(NetworkStream s) => (int)s.Socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater)!;

    [Fact]
    public async Task A_payload_paced_in_uneven_pieces_arrives_whole_and_the_mark_is_one_byte_again()
    {
        var (client, server) = Connect();
        using var _ = client;
        await using var __ = server;
        var payload = new byte[5 * 1024 * 1024 + 123];
        new Random(3).NextBytes(payload);
        var destination = new byte[payload.Length];

        var read = PayloadReader.ReadPayloadAsync(server, destination, CancellationToken.None).AsTask();
        int sent = 0;
        foreach (int piece in new[] { 1, 70_000, 2_000_000, 10, 900_000, 65_535 })
        {
            await client.SendAsync(payload.AsMemory(sent, piece));
            sent += piece;
            await Task.Delay(15);
            Assert.False(read.IsCompleted);
        }
        await client.SendAsync(payload.AsMemory(sent));

        Assert.Equal(payload.Length, await read.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(payload, destination);
        Assert.Equal(1, LowWater(server));
    }

    [Fact]
    public async Task The_next_bytes_after_the_payload_are_not_taken_and_wake_a_plain_read_at_once()
    {
        var (client, server) = Connect();
        using var _ = client;
        await using var __ = server;
        var destination = new byte[2 * 1024 * 1024];
        var read = PayloadReader.ReadPayloadAsync(server, destination, CancellationToken.None).AsTask();
        await client.SendAsync(new byte[destination.Length + 28]); // the payload and the next request header
        Assert.Equal(destination.Length, await read.WaitAsync(TimeSpan.FromSeconds(10)));

        var header = new byte[64];
        Assert.Equal(28, await server.ReadAsync(header).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        // A lone 28-byte request later is also seen at once: the mark is not left high.
        var next = server.ReadAsync(header).AsTask();
        await client.SendAsync(new byte[28]);
        Assert.Equal(28, await next.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task The_end_of_stream_inside_the_payload_returns_what_came()
    {
        var (client, server) = Connect();
        await using var __ = server;
        var destination = new byte[1024 * 1024];
        var read = PayloadReader.ReadPayloadAsync(server, destination, CancellationToken.None).AsTask();
        await client.SendAsync(new byte[300_000]);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal(300_000, await read.WaitAsync(TimeSpan.FromSeconds(10)));
        client.Dispose();
    }

    [Fact]
    public async Task A_small_payload_is_read_without_a_mark()
    {
        var (client, server) = Connect();
        using var _ = client;
        await using var __ = server;
        var destination = new byte[PayloadReader.MinimumLowWater - 1];
        var read = PayloadReader.ReadPayloadAsync(server, destination, CancellationToken.None).AsTask();
        await client.SendAsync(new byte[1000]);
        await Task.Delay(20);
        Assert.Equal(1, LowWater(server)); // waiting, but with the plain one-byte mark
        await client.SendAsync(new byte[destination.Length - 1000]);
        Assert.Equal(destination.Length, await read.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Cancellation_ends_the_wait_and_resets_the_mark()
    {
        var (client, server) = Connect();
        using var _ = client;
        await using var __ = server;
        using var cts = new CancellationTokenSource();
        var read = PayloadReader.ReadPayloadAsync(server, new byte[4 * 1024 * 1024], cts.Token).AsTask();
        await client.SendAsync(new byte[100_000]);
        await Task.Delay(20);
        Assert.True(LowWater(server) > 1, "the wait for 4 MiB had no mark"); // Linux may cap the 1 MiB asked for
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, LowWater(server));
    }
}
