using System.Net;
using System.Net.Sockets;

namespace CtrPipeline.Kafka;

/// <summary>
/// A fixed bootstrap address for a cluster whose brokers listen on ports chosen at start: it accepts TCP connections
/// on 127.0.0.1:<c>port</c> and forwards each to the first broker. A Kafka client uses the bootstrap connection only to
/// learn the cluster's metadata, which names the brokers' own listeners, so the data itself does not cross the proxy.
/// </summary>
public sealed class BootstrapProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public BootstrapProxy(int port, string brokerAddress)
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
                // When either side closes, close both.
                await Task.WhenAny(a.CopyToAsync(b, stop), b.CopyToAsync(a, stop));
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // A dropped connection is the client's to retry.
            }
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
