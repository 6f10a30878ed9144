using CtrPipeline.Contracts;
using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace CtrPipeline.Kafka.Tests;

/// <summary>Debian's kcat, a client that is not ours, against the embedded broker.</summary>
public sealed class KcatInteropTests(ITestOutputHelper output)
{
    [RequiresExecutableFact("kcat", "apt-get install kcat; .ci/run installs it")]
    public async Task Kcat_lists_the_topics_produces_and_consumes()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 3), ("ctr_results", 3)]);
        var bootstrap = cluster.BootstrapServers;

        using var metadata = JsonDocument.Parse(await Kcat(["-b", bootstrap, "-L", "-J"]));
        var topics = metadata.RootElement.GetProperty("topics").EnumerateArray()
            .ToDictionary(t => t.GetProperty("topic").GetString()!, t => t.GetProperty("partitions").GetArrayLength());
        Assert.Equal(3, topics["events"]);
        Assert.Equal(3, topics["ctr_results"]);

        var lines = Enumerable.Range(0, 50).Select(i => $"ad{i}:{{\"n\":{i}}}").ToList();
        await Kcat(["-b", bootstrap, "-P", "-t", "events", "-K", ":"], stdin: string.Join('\n', lines) + "\n");

        // What kcat produced, a Confluent.Kafka consumer reads...
        using (var consumer = new ConsumerBuilder<string, string>(KafkaClients.Consumer(new KafkaConnection(bootstrap), "kcat-check", "test")).Build())
        {
            consumer.Subscribe("events");
            var seen = new List<string>();
            var deadline = Stopwatch.StartNew();
            while (seen.Count < lines.Count && deadline.Elapsed < TimeSpan.FromSeconds(30))
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } r) seen.Add($"{r.Message.Key}:{r.Message.Value}");
            Assert.Equal(lines.Order(), seen.Order());
        }

        // ...and kcat consumes it back, keys and values intact.
        var consumed = await Kcat(["-b", bootstrap, "-C", "-t", "events", "-o", "beginning", "-c", "50", "-e", "-f", "%k:%s\\n"]);
        Assert.Equal(lines.Order(), consumed.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
    }

    private async Task<string> Kcat(string[] args, string? stdin = null)
    {
        var start = new ProcessStartInfo("kcat", args)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        output.WriteLine($"kcat {string.Join(' ', args)} -> {process.ExitCode} {await stderr}");
        Assert.Equal(0, process.ExitCode);
        return await stdout;
    }
}
