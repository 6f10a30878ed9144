using System.CommandLine;
using System.Text.Json;
using Confluent.Kafka;
using CtrPipeline.Bench;
using CtrPipeline.Bench.Faults;
using CtrPipeline.Bench.Hosts;
using CtrPipeline.Contracts;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// Where the benchmark's engines run (--host) and which Kafka they use (--kafka): the embedded broker as a process of
/// its own standing in for a Kafka cluster, and the AppHost's own app model running each engine as a process.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class BenchHostsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task With_kafka_every_run_gets_fresh_topics_of_its_own_on_the_cluster()
    {
        var folder = Directory.CreateTempSubdirectory("ctr-kafka-option-").FullName;
        using var broker = await BrokerProcess.StartAsync(new PipelineSettings(), 1, Path.Combine(folder, "embedded-kafka.log"), TestContext.Timeout);
        var kafka = await RunKafka.ClusterAsync(new KafkaConnection(broker.BootstrapServers), keepTopics: true, partitions: 3);
        var settings = OracleEndToEndTests.ShortRun("poisson") with { Kafka = kafka };

        // Two runs of the same engine on one cluster: the second must not see the first's records, offsets or checkpoint.
        foreach (var run in new[] { 1, 2 })
        {
            var report = (await OracleEndToEndTests.NewExperiment(settings, Engines.NativeContinuous, output).RunAsync(TestContext.Timeout)).Report;
            output.WriteLine($"run {run}: {report.ResultLine()} ({report.Broker})");
            Assert.Equal(OracleVerdict.Match, report.Oracle.Verdict);
            Assert.Equal(report.Events, report.Oracle.EventsRead); // exactly this run's events are in its topic
            Assert.Equal("cluster", report.Mode);
            Assert.Null(report.CpuSecondsPerMillionEvents); // in process, the engine's cost is not told apart from the benchmark's
            // An EmbeddedKafka process: known by its cluster id as the mock, and said so.
            Assert.Contains($"librdkafka mock cluster (an EmbeddedKafka process, in memory, not Kafka) at {broker.BootstrapServers}", report.Broker);
        }

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build();
        var runTopics = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.Where(t => t.Topic.StartsWith("ctr-native-continuous-", StringComparison.Ordinal)).ToList();
        foreach (var t in runTopics) output.WriteLine($"{t.Topic}: {t.Partitions.Count} partitions");
        var events = runTopics.Where(t => t.Topic.EndsWith("-events", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, events.Count); // one per run, with unique names
        Assert.All(events, t => Assert.Equal(3, t.Partitions.Count));
        foreach (var name in new PipelineSettings().Topics.All.Append(TopicNames.EngineState))
            Assert.Equal(2, runTopics.Count(t => t.Topic.EndsWith("-" + name, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_services_host_runs_each_engine_as_its_own_process_through_the_AppHost_model()
    {
        var folder = Directory.CreateTempSubdirectory("ctr-services-host-").FullName;
        var exit = await BenchCli.Root().Parse([
            "run", "--host", "services", "--mode", "embedded", "--engine", "native-continuous,native-microbatch,sql",
            "--profile", "poisson", "--rate", "5000", "--duration", "30s", "--verify", "--out", folder,
        ]).InvokeAsync();

        var summary = Directory.GetFiles(folder, "summary.json", SearchOption.AllDirectories).Single();
        var reports = JsonSerializer.Deserialize(await File.ReadAllTextAsync(summary), BenchJson.Default.ListEngineRunReport)!;
        foreach (var r in reports) output.WriteLine($"{r.ResultLine()} host={r.Host}");
        Assert.Equal(0, exit);
        Assert.Equal([Engines.NativeContinuous, Engines.NativeMicroBatch, EngineTarget.SqlSqlite], reports.Select(r => r.Engine));
        Assert.All(reports, r =>
        {
            Assert.Equal("services", r.Host);
            Assert.Equal(OracleVerdict.Match, r.Oracle.Verdict);
            Assert.True(r.Oracle.ExpectedRows > 0, $"{r.Engine}: the oracle compared no rows");
            Assert.True(r.Sustained, $"{r.Engine}: 5,000 events/s not sustained");
            Assert.True(r.L1.Count > 0, $"{r.Engine}: no latency measured");
        });
    }

    [Fact]
    public async Task The_services_host_runs_on_fresh_topics_of_a_kafka_cluster_given_with_kafka()
    {
        var folder = Directory.CreateTempSubdirectory("ctr-services-kafka-").FullName;
        using var broker = await BrokerProcess.StartAsync(new PipelineSettings(), 1, Path.Combine(folder, "embedded-kafka.log"), TestContext.Timeout);
        var exit = await BenchCli.Root().Parse([
            "run", "--host", "services", "--mode", "embedded", "--kafka", broker.BootstrapServers, "--engine", "native-continuous",
            "--profile", "poisson", "--rate", "5000", "--duration", "20s", "--verify", "--out", folder,
        ]).InvokeAsync();

        var summary = Directory.GetFiles(folder, "summary.json", SearchOption.AllDirectories).Single();
        var report = Assert.Single(JsonSerializer.Deserialize(await File.ReadAllTextAsync(summary), BenchJson.Default.ListEngineRunReport)!);
        output.WriteLine($"{report.ResultLine()} host={report.Host} kafka={report.Broker}");
        Assert.Equal(0, exit);
        Assert.Equal(OracleVerdict.Match, report.Oracle.Verdict);
        Assert.Equal(("services", "cluster"), (report.Host, report.Mode));
        if (OperatingSystem.IsLinux())
        {
            // The engine's own process, found through the app model, and this process as the apparatus, both measured.
            Assert.True(report.CpuSecondsPerMillionEvents > 0, "the engine's CPU was not measured");
            Assert.InRange(report.PeakRssMb!.Value, 20, 2_000);
            Assert.True(report.ApparatusCpuSecondsPerMillionEvents > 0, "the apparatus's CPU was not measured");
        }
        // The run's own topic: the load and the end-of-input trailer (a few hundred events), nothing from another topic.
        Assert.InRange(report.Oracle.EventsRead - report.Events, 1, report.Events / 10);

        // The engine's state topic was the run's own too (the AppHost was given the prefix).
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build();
        var topics = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.Select(t => t.Topic).ToList();
        Assert.Contains(topics, t => t.StartsWith("ctr-native-continuous-", StringComparison.Ordinal) && t.EndsWith("-" + TopicNames.EngineState, StringComparison.Ordinal));
        Assert.DoesNotContain(TopicNames.EngineState, topics);
    }

    [Fact]
    public void With_containers_the_services_host_plans_flink_and_spark_and_skips_them_elsewhere()
    {
        var targets = EngineTarget.Parse("all", postgres: null);
        var settings = OracleEndToEndTests.ShortRun("poisson");

        var (runnable, skipped) = Benchmark.Plan(targets, settings with { Host = EngineHost.Services, Mode = "containers" });
        Assert.Contains(runnable, t => t.Name == Engines.Flink);
        Assert.Contains(runnable, t => t.Name == Engines.Spark);
        Assert.Equal([EngineTarget.SqlPostgres], skipped.Select(s => s.Engine)); // no PostgreSQL given

        (runnable, skipped) = Benchmark.Plan(targets, settings with { Host = EngineHost.Services, Mode = "embedded" });
        Assert.DoesNotContain(runnable, t => t.Name is Engines.Flink or Engines.Spark);
        Assert.Contains(skipped, s => s.Engine == Engines.Flink && s.Reason.Contains("needs its cluster: containers mode", StringComparison.Ordinal));

        // An existing Flink cluster named the way the AppHost takes it brings flink, not spark.
        (runnable, skipped) = Benchmark.Plan(targets, settings with
        {
            Host = EngineHost.Services,
            Mode = "embedded",
            ServiceConnections = new Dictionary<string, string> { ["flink-gateway"] = "http://flink:8083" },
        });
        Assert.Contains(runnable, t => t.Name == Engines.Flink);
        Assert.Contains(skipped, s => s.Engine == Engines.Spark && s.Reason.Contains("--connection-string spark-connect=", StringComparison.Ordinal));

        (_, skipped) = Benchmark.Plan(targets, settings);
        Assert.Contains(skipped, s => s.Engine == Engines.Spark && s.Reason.Contains("--host services --mode containers", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true, "containers")]
    [InlineData(false, "embedded")]
    public async Task Mode_auto_asks_the_container_runtime(bool runtimeAnswers, string expected)
    {
        var common = new CommonOptions();
        var command = new Command("run");
        common.AddTo(command);
        var original = CommonOptions.ContainerRuntimeProbe;
        CommonOptions.ContainerRuntimeProbe = () => runtimeAnswers;
        try
        {
            var placed = await common.PlaceAsync(command.Parse("--host services"), OracleEndToEndTests.ShortRun("poisson") with
            {
                Pipeline = new PipelineSettings(), // the AppHost's default trigger
            });
            Assert.Equal(EngineHost.Services, placed.Host);
            Assert.Equal(expected, placed.Mode);
        }
        finally
        {
            CommonOptions.ContainerRuntimeProbe = original;
        }
    }
}
