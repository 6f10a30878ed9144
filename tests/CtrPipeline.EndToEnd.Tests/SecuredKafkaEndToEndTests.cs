using System.Diagnostics;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// A secured cluster end to end: the embedded broker requiring SASL/SCRAM-SHA-512 over TLS, the benchmark and every
/// engine process given its client properties file, every count checked by the oracle; the wrong password ends the
/// benchmark and a worker with one line, quickly; and the password shows in no output, log or report.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class SecuredKafkaEndToEndTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ctr-secured-kafka-").FullName;
    private readonly string _password = $"e2e-{Guid.NewGuid():N}";
    private readonly string _wrongPassword = $"wrong-{Guid.NewGuid():N}";

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task A_sasl_ssl_cluster_serves_the_benchmark_and_every_engine_process_and_no_output_holds_the_password()
    {
        var httpPort = EmbeddedKafkaProcess.FreePort();
        var tls = Path.Combine(_folder, "tls");
        using var broker = EmbeddedKafkaProcess.StartScramOverTls(_password, tls, httpPort);
        var brokerOutput = Task.WhenAll(broker.StandardOutput.ReadToEndAsync(), broker.StandardError.ReadToEndAsync());
        var outputs = new List<string>();
        try
        {
            var bootstrap = await EmbeddedKafkaProcess.WaitBootstrap(broker, httpPort);
            var good = await PropertiesAsync("client.properties", _password, tls);
            var wrong = await PropertiesAsync("wrong.properties", _wrongPassword, tls);

            // The wrong password: one line naming the cluster and the cause, exit 2, well within 30 s.
            var clock = Stopwatch.StartNew();
            var refused = await WorkerProcess.RunAsync(WorkerProcess.StartInfo("CtrPipeline.Bench", new Dictionary<string, string>(),
                "run", "--kafka", bootstrap, "--kafka-config", wrong, "--engine", "native-continuous", "--duration", "20s"), TimeSpan.FromMinutes(2));
            outputs.AddRange([refused.Stdout, refused.Stderr]);
            output.WriteLine($"wrong password, benchmark: exit {refused.ExitCode} after {clock.Elapsed.TotalSeconds:0.0} s: {refused.Stderr}");
            Assert.Equal(2, refused.ExitCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"refused after {clock.Elapsed}");
            var line = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"error: Kafka {bootstrap} refused authentication (SASL/SCRAM-SHA-512: ", line);

            // A worker given the wrong password (as the AppHost gives it: the file's path) ends likewise, exit 2.
            clock.Restart();
            var worker = await WorkerProcess.RunAsync(WorkerProcess.StartInfo("NativeEngine.Worker", new Dictionary<string, string>
            {
                ["ConnectionStrings__kafka"] = bootstrap,
                ["Kafka__ConfigFile"] = wrong,
                ["Engine__Id"] = "native-continuous",
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
            }), TimeSpan.FromMinutes(1));
            outputs.AddRange([worker.Stdout, worker.Stderr]);
            output.WriteLine($"wrong password, engine worker: exit {worker.ExitCode} after {clock.Elapsed.TotalSeconds:0.0} s: {worker.Stderr}");
            Assert.Equal(2, worker.ExitCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the worker was refused after {clock.Elapsed}");
            Assert.Contains("refused authentication (SASL/SCRAM-SHA-512: ", worker.Stderr);

            // The right password: the services host, each engine its own process reading the file, counted right.
            var runs = Path.Combine(_folder, "runs");
            var run = await WorkerProcess.RunAsync(WorkerProcess.StartInfo("CtrPipeline.Bench", new Dictionary<string, string>(),
                "run", "--kafka", bootstrap, "--kafka-config", good, "--host", "services", "--mode", "embedded",
                "--engine", "native-continuous,sql", "--profile", "poisson", "--rate", "5000", "--duration", "20s", "--verify", "--out", runs),
                TimeSpan.FromMinutes(8));
            outputs.AddRange([run.Stdout, run.Stderr]);
            output.WriteLine($"exit {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
            Assert.Equal(0, run.ExitCode);
            var results = run.Stdout.Split('\n').Where(l => l.StartsWith("RESULT ", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, results.Count);
            Assert.All(results, r => Assert.Contains("oracle=match", r));
            Assert.Contains("sasl.password=***", run.Stdout); // the AppHost's header names the properties, masked

            outputs.AddRange(Directory.GetFiles(runs, "*", SearchOption.AllDirectories).Select(File.ReadAllText));
        }
        finally
        {
            if (!broker.HasExited) broker.Kill(entireProcessTree: true);
            await broker.WaitForExitAsync();
            var (stdout, stderr) = (await brokerOutput) is var logs ? (logs[0], logs[1]) : default;
            outputs.AddRange([stdout, stderr]);
        }

        Assert.All(outputs, text =>
        {
            Assert.DoesNotContain(_password, text);
            Assert.DoesNotContain(_wrongPassword, text);
        });
    }

    private async Task<string> PropertiesAsync(string name, string password, string tls)
    {
        var path = Path.Combine(_folder, name);
        await File.WriteAllTextAsync(path, $"""
            security.protocol=SASL_SSL
            sasl.mechanisms=SCRAM-SHA-512
            sasl.username=bench
            sasl.password={password}
            ssl.ca.location={Path.Combine(tls, "ca.pem")}

            """);
        return path;
    }
}
