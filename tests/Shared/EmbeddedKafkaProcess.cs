using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CtrPipeline.Testing;

/// <summary>The EmbeddedKafka process as the AppHost runs it (<see cref="WorkerProcess.StartInfo"/>): waiting for it to serve.</summary>
internal static class EmbeddedKafkaProcess
{
    /// <summary>
    /// The process requiring SASL/SCRAM-SHA-512 over TLS of one user, "bench", with its certificates generated in
    /// <paramref name="tlsFolder"/> (clients trust ca.pem there); its HTTP endpoint on <paramref name="httpPort"/>.
    /// </summary>
    public static Process StartScramOverTls(string password, string tlsFolder, int httpPort) =>
        Process.Start(WorkerProcess.StartInfo("EmbeddedKafka", new Dictionary<string, string>
        {
            ["EmbeddedKafka__Port"] = "0",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{httpPort}",
            ["EmbeddedKafka__Security__Protocol"] = "SASL_SSL",
            ["EmbeddedKafka__Security__Mechanisms"] = "SCRAM-SHA-512",
            ["EmbeddedKafka__Security__Users__bench"] = password,
            ["EmbeddedKafka__Tls__Folder"] = tlsFolder,
        }))!;

    /// <summary>The broker's bootstrap address, once its HTTP endpoint answers.</summary>
    public static async Task<string> WaitBootstrap(Process broker, int httpPort)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            Assert.False(broker.HasExited, $"EmbeddedKafka exited with code {(broker.HasExited ? broker.ExitCode : 0)}");
            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{httpPort}/bootstrap");
                if (response.IsSuccessStatusCode) return (await response.Content.ReadAsStringAsync()).Trim('"');
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not listening yet
            }
            await Task.Delay(200);
        }
        Assert.Fail("EmbeddedKafka did not answer on its HTTP port within 60 s");
        return "";
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
