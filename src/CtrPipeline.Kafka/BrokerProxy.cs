using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace CtrPipeline.Kafka;

/// <summary>
/// A TCP proxy in front of one broker of the embedded cluster, on 127.0.0.1:<c>port</c> (0: any free port). It gives
/// the cluster a fixed bootstrap address, and, with the broker advertising the proxy's address
/// (<see cref="EmbeddedKafkaCluster.Advertise"/>), every connection of every client passes through one.
/// <para>
/// It forwards bytes unchanged, except for one exchange librdkafka's mock gets wrong: the ApiVersions request a client
/// sends first on each connection. The mock supports ApiVersions up to v2; a newer request (the Java client's v3 or v4)
/// is answered with an error in a layout that is neither v0 nor v3, which the Java client reads as a throttle time of
/// 1,179,648 ms, so it never sends anything else on that connection. The proxy answers such a request itself as
/// Kafka does (KIP-511): a v0-layout UNSUPPORTED_VERSION response naming ApiVersions 0-2, and the client asks again
/// with v2, which the proxy forwards. See docs/embedded-broker.md.
/// </para>
/// </summary>
public sealed class BrokerProxy : IAsyncDisposable
{
    /// <summary>Kafka's ApiKey of ApiVersions, and the newest version librdkafka's mock answers correctly.</summary>
    internal const short ApiVersionsKey = 18;

    internal const short MockApiVersionsMax = 2;

    private const short UnsupportedVersion = 35;

    /// <summary>An ApiVersions request is a few dozen bytes; a larger first frame is forwarded without a look.</summary>
    private const int MaxHandshakeFrame = 64 * 1024;

    private readonly TcpListener _listener;
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public BrokerProxy(int port, string brokerAddress)
    {
        var colon = brokerAddress.LastIndexOf(':');
        _targetHost = brokerAddress[..colon];
        _targetPort = int.Parse(brokerAddress[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync(_stop.Token);
    }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    private async Task AcceptAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(stop); }
            catch (OperationCanceledException) { return; }
            catch (SocketException) { return; }
            _ = ForwardAsync(client, stop);
        }
    }

    private async Task ForwardAsync(TcpClient client, CancellationToken stop)
    {
        using (client)
        using (var broker = new TcpClient { NoDelay = true })
        {
            client.NoDelay = true;
            try
            {
                await broker.ConnectAsync(_targetHost, _targetPort, stop);
                var a = client.GetStream();
                var b = broker.GetStream();
                if (!await HandshakeAsync(a, b, stop)) return;
                // When either side closes, close both.
                await Task.WhenAny(a.CopyToAsync(b, stop), b.CopyToAsync(a, stop));
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // A dropped connection is the client's to retry.
            }
        }
    }

    /// <summary>
    /// Answers ApiVersions requests newer than the mock's until the client sends anything else, which goes to the
    /// broker. Nothing has reached the broker before, so responses stay in request order. False: the client left.
    /// </summary>
    private static async Task<bool> HandshakeAsync(Stream client, Stream broker, CancellationToken stop)
    {
        var header = new byte[8]; // size, ApiKey, ApiVersion
        while (true)
        {
            if (!await ReadExactlyOrEndAsync(client, header, stop)) return false;
            var size = BinaryPrimitives.ReadInt32BigEndian(header);
            var apiKey = BinaryPrimitives.ReadInt16BigEndian(header.AsSpan(4));
            var apiVersion = BinaryPrimitives.ReadInt16BigEndian(header.AsSpan(6));
            if (apiKey != ApiVersionsKey || apiVersion <= MockApiVersionsMax || size is < 8 or > MaxHandshakeFrame)
            {
                await broker.WriteAsync(header, stop); // the rest of the frame follows with the copy
                return true;
            }
            var rest = new byte[size - 4];
            if (!await ReadExactlyOrEndAsync(client, rest, stop)) return false;
            var correlationId = BinaryPrimitives.ReadInt32BigEndian(rest);
            await client.WriteAsync(UnsupportedApiVersionsResponse(correlationId), stop);
        }
    }

    /// <summary>
    /// ApiVersions response v0 as a Kafka broker sends it for a request version it does not support: error
    /// UNSUPPORTED_VERSION and the one ApiKey the client needs to retry, ApiVersions 0-2.
    /// </summary>
    internal static byte[] UnsupportedApiVersionsResponse(int correlationId)
    {
        var response = new byte[4 + 4 + 2 + 4 + 6];
        var span = response.AsSpan();
        BinaryPrimitives.WriteInt32BigEndian(span, response.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], correlationId);
        BinaryPrimitives.WriteInt16BigEndian(span[8..], UnsupportedVersion);
        BinaryPrimitives.WriteInt32BigEndian(span[10..], 1); // ApiKeys: one entry
        BinaryPrimitives.WriteInt16BigEndian(span[14..], ApiVersionsKey);
        BinaryPrimitives.WriteInt16BigEndian(span[16..], 0);
        BinaryPrimitives.WriteInt16BigEndian(span[18..], MockApiVersionsMax);
        return response;
    }

    private static async Task<bool> ReadExactlyOrEndAsync(Stream stream, byte[] buffer, CancellationToken stop)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, stop);
            return true;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
