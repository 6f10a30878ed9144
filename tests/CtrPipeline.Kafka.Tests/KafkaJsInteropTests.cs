using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace CtrPipeline.Kafka.Tests;

/// <summary>
/// KafkaJS, a Kafka client with no librdkafka inside, against the embedded broker as the AppHost runs it: the
/// EmbeddedKafka process with its bootstrap port. The Node script (tests/interop/kafkajs/check.mjs) checks metadata,
/// produce, consume in a consumer group and the committed offsets, and reports what admin.listGroups() answers.
/// </summary>
public sealed class KafkaJsInteropTests(ITestOutputHelper output)
{
    private const int Partitions = 3;

    [KafkaJsFact]
    public async Task KafkaJs_reads_metadata_produces_consumes_in_a_group_and_commits_offsets()
    {
        // The bootstrap port is the broker's own pick (0): a port chosen here and passed on could be taken by another
        // test's listener before the broker binds it.
        var httpPort = EmbeddedKafkaProcess.FreePort();
        var start = WorkerProcess.StartInfo("EmbeddedKafka", new Dictionary<string, string>
        {
            ["EmbeddedKafka__Port"] = "0",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{httpPort}",
            ["Pipeline__Partitions"] = Partitions.ToString(),
        });
        using var broker = Process.Start(start)!;
        var brokerLog = Task.WhenAll(broker.StandardOutput.ReadToEndAsync(), broker.StandardError.ReadToEndAsync());
        try
        {
            var bootstrap = await EmbeddedKafkaProcess.WaitBootstrap(broker, httpPort);

            var (exitCode, stdout, stderr) = await WorkerProcess.RunAsync(Node(bootstrap, "events", Partitions), TimeSpan.FromMinutes(2));
            output.WriteLine($"node check.mjs -> {exitCode}\n{stdout}\n{stderr}");
            Assert.True(exitCode == 0, $"the KafkaJS check failed: {stderr}");

            using var report = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
            var r = report.RootElement;
            var records = r.GetProperty("records").GetInt32();
            // The metadata names the proxy in front of the broker, the bootstrap port itself (see BrokerProxy).
            Assert.Equal([$"1@{bootstrap}"], r.GetProperty("brokers").EnumerateArray().Select(b => b.GetString()));
            Assert.Equal(Partitions, r.GetProperty("existingTopicPartitions").GetInt32());
            Assert.Equal(records, r.GetProperty("produced").GetInt32());
            Assert.Equal(records, r.GetProperty("consumed").GetInt32());

            // The group's commits, read by a client that is not KafkaJS: the end of every partition.
            var topic = r.GetProperty("topic").GetString()!;
            var partitions = r.GetProperty("partitions").GetInt32();
            using var probe = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = r.GetProperty("groupId").GetString(),
            }).Build();
            var committed = probe.Committed(Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p)), TimeSpan.FromSeconds(20));
            var ends = committed.Select(c => probe.QueryWatermarkOffsets(c.TopicPartition, TimeSpan.FromSeconds(20)).High.Value);
            Assert.Equal(ends, committed.Select(c => c.Offset.Value));
            Assert.Equal(records, committed.Sum(c => c.Offset.Value));

            // docs/embedded-broker.md says listGroups fails: the mock does not implement ListGroups (ApiKey 16).
            // Should a newer librdkafka implement it, this fails so the documentation is brought up to date.
            var listGroups = r.GetProperty("listGroups");
            Assert.False(listGroups.GetProperty("ok").GetBoolean(), "admin.listGroups() now works: update docs/embedded-broker.md");
            Assert.Equal("KafkaJSServerDoesNotSupportApiKey: The Kafka server does not support the requested API version",
                listGroups.GetProperty("error").GetString());
        }
        finally
        {
            if (!broker.HasExited) broker.Kill(entireProcessTree: true);
            await broker.WaitForExitAsync();
            var logs = await brokerLog;
            output.WriteLine($"EmbeddedKafka:\n{logs[0]}\n{logs[1]}");
        }
    }

    private static ProcessStartInfo Node(string bootstrap, string topic, int partitions)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = KafkaJsFactAttribute.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "check.mjs", bootstrap, topic, partitions.ToString() }) start.ArgumentList.Add(argument);
        start.Environment["KAFKAJS_NO_PARTITIONER_WARNING"] = "1";
        return start;
    }
}

/// <summary>Skipped, with what is missing, when Node.js or the script's packages (npm ci) are not installed.</summary>
public sealed class KafkaJsFactAttribute : FactAttribute
{
    /// <summary>tests/interop/kafkajs in the repository.</summary>
    public static readonly string Folder = Path.Combine(RepositoryRoot(), "tests", "interop", "kafkajs");

    public KafkaJsFactAttribute()
    {
        if (!RequiresExecutableFactAttribute.IsOnPath("node"))
            Skip = "node is not installed on this machine (apt-get install nodejs npm; .ci/run installs it).";
        else if (!File.Exists(Path.Combine(Folder, "node_modules", "kafkajs", "package.json")))
            Skip = $"KafkaJS is not installed: run `npm ci` in {Folder} (.ci/run does).";
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CtrPipeline.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("CtrPipeline.sln not found above the test's folder");
    }
}
