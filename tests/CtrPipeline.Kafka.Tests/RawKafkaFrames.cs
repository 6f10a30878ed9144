using System.Buffers.Binary;
using System.Net.Sockets;

namespace CtrPipeline.Kafka.Tests;

/// <summary>Kafka frames written and read by hand over a socket: what a proxy answers before any client library speaks.</summary>
internal static class RawKafkaFrames
{
    /// <summary>ApiVersions request v2, correlation id 1, client id "probe".</summary>
    public static readonly byte[] ApiVersionsV2 = Convert.FromHexString("0000000f" + "0012" + "0002" + "00000001" + "0005" + "70726f6265");

    /// <summary>Sends one request frame on a new connection to <paramref name="address"/> (host:port); returns the response frame without its size.</summary>
    public static async Task<byte[]> Exchange(string address, byte[] request)
    {
        var colon = address.LastIndexOf(':');
        using var connection = new TcpClient();
        await connection.ConnectAsync(address[..colon], int.Parse(address[(colon + 1)..]));
        return await Exchange(connection.GetStream(), request);
    }

    /// <summary>Sends one request frame; returns the response frame without its size.</summary>
    public static async Task<byte[]> Exchange(NetworkStream stream, byte[] request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await stream.WriteAsync(request, timeout.Token);
        var size = new byte[4];
        await stream.ReadExactlyAsync(size, timeout.Token);
        var response = new byte[BinaryPrimitives.ReadInt32BigEndian(size)];
        await stream.ReadExactlyAsync(response, timeout.Token);
        return response;
    }

    /// <summary>ApiVersions response v2 to <see cref="ApiVersionsV2"/>: correlation id, error, [ApiKey, Min, Max] with a 4-byte count, throttle.</summary>
    public static Dictionary<short, (int Min, int Max)> ParseApiVersionsV2(byte[] response)
    {
        var span = response.AsSpan();
        Assert.Equal(1, BinaryPrimitives.ReadInt32BigEndian(span));
        Assert.Equal(0, BinaryPrimitives.ReadInt16BigEndian(span[4..]));
        var count = BinaryPrimitives.ReadInt32BigEndian(span[6..]);
        var versions = new Dictionary<short, (int, int)>();
        for (var i = 0; i < count; i++)
        {
            var entry = span[(10 + 6 * i)..];
            versions[BinaryPrimitives.ReadInt16BigEndian(entry)] =
                (BinaryPrimitives.ReadInt16BigEndian(entry[2..]), BinaryPrimitives.ReadInt16BigEndian(entry[4..]));
        }
        Assert.Equal(10 + 6 * count + 4, response.Length); // and the throttle time
        return versions;
    }
}
