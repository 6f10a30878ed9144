using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

namespace Analyzer.Worker.Tests;

/// <summary>The worker process itself, started the way the AppHost starts it: configuration from the environment.</summary>
public sealed class ProgramTests
{
    /// <param name="otlpEndpoint">
    /// Where telemetry goes: nowhere (a headless run), or a collector that is not listening, which must not hold the
    /// worker up.
    /// </param>
    [Theory]
    [InlineData(null)]
    [InlineData("http://127.0.0.1:9")]
    public async Task Worker_binds_its_settings_and_writes_the_summary_it_measures(string? otlpEndpoint)
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("ctr_results", 1)]);
        var summaryPath = Path.Combine(Path.GetTempPath(), $"analyzer-{Guid.NewGuid():N}.json");
        var start = Worker(cluster.BootstrapServers);
        if (otlpEndpoint is not null)
        {
            start.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint;
            start.Environment["OTEL_METRIC_EXPORT_INTERVAL"] = "100"; // export (and fail) often meanwhile
        }
        start.Environment["Analyzer__SummaryPath"] = summaryPath;
        start.Environment["Analyzer__SummaryInterval"] = "00:00:00.2";
        using var process = Process.Start(start)!;
        var logs = Task.WhenAll(process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync()); // keeps the pipes from filling up
        try
        {
            using (var producer = new ProducerBuilder<Null, byte[]>(KafkaClients.Producer(new KafkaConnection(cluster.BootstrapServers), "test-engine")).Build())
            {
                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                producer.Produce("ctr_results", new Message<Null, byte[]> { Value = WireFormat.Serialize(LatencyRecorderTests.Row("flink", now - 42, now)) });
                Assert.Equal(0, producer.Flush(Wait.Limit));
            }

            await Wait.Until(() => ResultsIn(summaryPath) == 1, "the worker's summary to count the row");
            using var summary = JsonDocument.Parse(File.ReadAllText(summaryPath));
            var flink = Assert.Single(summary.RootElement.GetProperty("engines").EnumerateArray().ToList());
            Assert.Equal(42, flink.GetProperty("l1").GetProperty("max").GetDouble());
        }
        finally
        {
            process.Kill();
            await logs.WaitAsync(Wait.Limit);
            File.Delete(summaryPath);
        }
    }

    [Theory]
    [InlineData("", "", "No Kafka bootstrap servers")]
    [InlineData("127.0.0.1:9", "Analyzer__SummaryInterval=often", "'Analyzer:SummaryInterval'")]
    [InlineData("127.0.0.1:9", "Analyzer__SummaryInterval=00:00:00", "Analyzer:SummaryInterval must be positive")]
    [InlineData("127.0.0.1:9", "Pipeline__Partitions=0", "Pipeline:Partitions")]
    public async Task Invalid_configuration_ends_with_one_clear_line_and_a_nonzero_exit(string bootstrap, string setting, string expected)
    {
        var start = Worker(bootstrap);
        if (setting.Split('=') is [var key, var value]) start.Environment[key] = value;

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Wait.Limit);

        Assert.Equal(2, process.ExitCode);
        var line = Assert.Single((await error).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
        Assert.Empty(await stdout);
    }

    private static ProcessStartInfo Worker(string bootstrap) => new(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
    {
        ArgumentList = { "exec", Path.Combine(AppContext.BaseDirectory, "Analyzer.Worker.dll") },
        RedirectStandardError = true,
        RedirectStandardOutput = true,
        Environment = { ["ConnectionStrings__kafka"] = bootstrap },
    };

    /// <summary>Rows counted in the summary file; 0 while it is not there yet.</summary>
    private static long ResultsIn(string summaryPath)
    {
        if (!File.Exists(summaryPath)) return 0;
        using var summary = JsonDocument.Parse(File.ReadAllText(summaryPath));
        return summary.RootElement.GetProperty("engines").EnumerateArray().Sum(e => e.GetProperty("results").GetInt64());
    }
}
