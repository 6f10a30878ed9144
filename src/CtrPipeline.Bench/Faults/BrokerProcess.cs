using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CtrPipeline.Contracts;

namespace CtrPipeline.Bench.Faults;

/// <summary>
/// The embedded broker (src/EmbeddedKafka) in a process of its own, so that an engine can be killed while the broker
/// and its data survive, and driven over its HTTP endpoints: the bootstrap address, brokers down and up.
/// </summary>
public sealed class BrokerProcess : IDisposable
{
    private readonly ChildProcess _process;
    private readonly HttpClient _http;

    private BrokerProcess(ChildProcess process, HttpClient http, string bootstrap)
    {
        _process = process;
        _http = http;
        BootstrapServers = bootstrap;
    }

    public string BootstrapServers { get; }

    /// <summary>The broker as its clients connect to it: PLAINTEXT, on the loopback.</summary>
    public KafkaConnection Kafka => new(BootstrapServers);

    public static async Task<BrokerProcess> StartAsync(PipelineSettings pipeline, int brokers, string logFile, CancellationToken cancel)
    {
        var port = FreePort();
        var process = ChildProcess.Start("embedded-kafka", "EmbeddedKafka", new Dictionary<string, string>(pipeline.Environment())
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["EmbeddedKafka__Port"] = "0", // no fixed bootstrap port: clients use the brokers' own listeners
            ["EmbeddedKafka__Brokers"] = brokers.ToString(CultureInfo.InvariantCulture),
        }, logFile);
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                var why = string.Join(" ", process.ErrorLines.TakeLast(3));
                process.Dispose();
                http.Dispose();
                throw new WorkerFailedException($"the embedded broker process ended at start (exit {process.ExitCode}): {why}");
            }
            try
            {
                var bootstrap = await http.GetStringAsync("/bootstrap", cancel);
                return new BrokerProcess(process, http, bootstrap.Trim('"'));
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, cancel);
            }
            catch (HttpRequestException e)
            {
                process.Dispose();
                http.Dispose();
                throw new WorkerFailedException($"the embedded broker process did not answer on its HTTP port within 60 s: {e.Message}");
            }
        }
    }

    /// <summary>Every broker drops its connections and refuses new ones (a stopped broker).</summary>
    public Task DownAsync(CancellationToken cancel) => PostAsync("/brokers/all/down", cancel);

    public Task UpAsync(CancellationToken cancel) => PostAsync("/brokers/all/up", cancel);

    private async Task PostAsync(string path, CancellationToken cancel)
    {
        using var response = await _http.PostAsync(path, null, cancel);
        if (!response.IsSuccessStatusCode)
            throw new WorkerFailedException($"the embedded broker refused {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancel)}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _http.Dispose();
        _process.Dispose();
    }
}
