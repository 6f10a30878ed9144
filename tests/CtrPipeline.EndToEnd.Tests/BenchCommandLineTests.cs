using CtrPipeline.Analyzer;
using CtrPipeline.Bench;
using CtrPipeline.Contracts;

namespace CtrPipeline.EndToEnd.Tests;

[Collection(ConsoleCollection.Name)]
public sealed class BenchCommandLineTests
{
    [Theory]
    [InlineData("benchmark --workload no/such/file.json", "no such file")]
    [InlineData("benchmark --rate 5000,fast", "'fast' is not a positive number")]
    [InlineData("benchmark --engine sql-oracle", "Unknown engine 'sql-oracle'")]
    [InlineData("benchmark --engine sql-postgres --postgres Hots=localhost", "--postgres is not a PostgreSQL connection string")]
    [InlineData("benchmark --profile poisson,weekly", "weekly")]
    [InlineData("benchmark --search-start 9000 --search-max 1000", "must not be below its start rate")]
    [InlineData("benchmark --search-duration 20s --search-confirm 30s", "the search's confirmation run must last at least three steps (60s; got 30s)")]
    public async Task Invalid_benchmark_configuration_ends_with_one_clear_message(string arguments, string expected) =>
        await Invalid_configuration_ends_with_one_clear_message_and_a_nonzero_exit(arguments, expected);

    [Fact]
    public async Task A_workload_file_with_an_unknown_setting_is_rejected_by_name()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("ctr-workload-").FullName, "typo.json");
        await File.WriteAllTextAsync(file, """{ "name": "typo", "ratez": [1000] }""");
        await Invalid_configuration_ends_with_one_clear_message_and_a_nonzero_exit($"benchmark --workload {file}", "ratez");
    }

    [Fact]
    public void The_workload_files_in_the_repository_are_valid()
    {
        var folder = Path.Combine(RepositoryRoot(), "workloads");
        var files = Directory.GetFiles(folder, "*.json");
        Assert.Contains(files, f => Path.GetFileName(f) == "default.json");
        foreach (var file in files) Workload.Load(file).Validate();
        var defaults = Workload.Load(Path.Combine(folder, "default.json"));
        Assert.Equal(Workload.Default.Search, defaults.Search); // `benchmark` without a file runs the documented default
        Assert.Equal(Workload.Default.Rates, defaults.Rates);
        Assert.Equal(Workload.Default.Profiles, defaults.Profiles);
        Assert.Equal(Workload.Default.Durations, defaults.Durations);
        // Its pipeline settings, left out, are the settings types' own defaults.
        Assert.Equal(PipelineSettings.Defaults.WindowSize, Durations.Parse(defaults.Window, "window"));
        Assert.Equal(PipelineSettings.Defaults.WatermarkDelay, Durations.Parse(defaults.Watermark, "watermark"));
        Assert.Equal(PipelineSettings.Defaults.TriggerInterval, Durations.Parse(defaults.Trigger, "trigger"));
        Assert.Equal(PipelineSettings.Defaults.Partitions, defaults.Partitions);
        Assert.Equal(AnalyzerOptions.DefaultWarmup, Durations.Parse(defaults.Warmup, "warmup"));
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CtrPipeline.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("CtrPipeline.sln not found above the test's folder");
    }

    [Theory]
    [InlineData("run --rate -5", "rate")]
    [InlineData("run --engine turbo", "Unknown engine 'turbo'")]
    [InlineData("run --profile weekly", "weekly")]
    [InlineData("run --duration soon", "--duration: 'soon' is not a duration")]
    [InlineData("run --skewed-partitions 4 --partitions 4", "--skewed-partitions (4) must leave some of the 4 partitions (--partitions) unskewed")]
    [InlineData("run --skewed-partitions 2 --skew 0s", "The partition skew must be positive")]
    [InlineData("run --window 100ms", "watermark's tick")]
    [InlineData("run --warmup soon", "--warmup: 'soon' is not a duration")]
    [InlineData("run --warmup 30s --duration 30s", "--warmup (30s) must be shorter than the run (30s)")]
    [InlineData("run --kafka localhost", "--kafka: 'localhost' is not host:port")]
    [InlineData("run --kafka 127.0.0.1:9092,broker2", "--kafka: 'broker2' is not host:port")]
    [InlineData("run --keep-topics", "--keep-topics goes with --kafka")]
    [InlineData("run --kafka-config /nonexistent/client.properties", "The Kafka client properties file /nonexistent/client.properties does not exist")]
    [InlineData("benchmark --kafka 127.0.0.1:9092 --brokers 3", "--brokers sizes the embedded broker")]
    [InlineData("run --producers 65", "--producers must be between 0 (the load in this process) and 64 (got 65)")]
    [InlineData("benchmark --producers -1", "--producers must be between 0 (the load in this process) and 64 (got -1)")]
    [InlineData("run --producers-external 65", "--producers-external must be between 1 and 64 (got 65)")]
    [InlineData("run --producers 2 --producers-external 2", "--producers and --producers-external do not go together")]
    [InlineData("run --host cloud", "--host must be inprocess")]
    [InlineData("run --connection-string flink-gateway=http://flink:8083", "--connection-string goes with --host services")]
    [InlineData("run --host services --connection-string kafka=broker:9092", "--connection-string kafka: the services host takes flink-gateway, flink-rest, spark-connect")]
    [InlineData("run --host services --connection-string flink-gateway", "--connection-string must be name=value (got 'flink-gateway')")]
    [InlineData("run --mode containers", "--mode goes with --host services")]
    [InlineData("run --host services --mode cluster", "--mode must be auto, embedded or containers (got 'cluster')")]
    [InlineData("run --host services --kafka localhost", "--kafka: 'localhost' is not host:port")]
    public async Task Invalid_configuration_ends_with_one_clear_message_and_a_nonzero_exit(string arguments, string expected)
    {
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        try
        {
            var exit = await BenchCli.Root().Parse(arguments.Split(' ')).InvokeAsync();

            Assert.NotEqual(0, exit);
            var message = error.ToString().Trim();
            Assert.StartsWith("error: ", message);
            Assert.Contains(expected, message, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("   at ", message); // no stack trace
        }
        finally
        {
            Console.SetError(original);
        }
    }
}

/// <summary>`--kafka` names a cluster that cannot take the benchmark's runs: the command ends before any run.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class BenchKafkaOptionTests
{
    [Fact]
    public async Task A_Kafka_that_does_not_answer_ends_the_command_before_any_run()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // a port nothing listens on

        await BenchCommandLine.FailsWithOneErrorLine($"run --kafka 127.0.0.1:{port} --duration 20s", $"--kafka 127.0.0.1:{port}: no broker answered within 15 s");
    }

    [Theory]
    [InlineData("", "security.protocol=SSL", "--kafka-config goes with --kafka")]
    [InlineData("--kafka 127.0.0.1:9092 ", "bootstrap.servers=127.0.0.1:9093", "--kafka 127.0.0.1:9092 and bootstrap.servers 127.0.0.1:9093")]
    [InlineData("--kafka 127.0.0.1:9092 ", "transactional.id=mine", "transactional.id is set by the pipeline itself")]
    public async Task A_client_properties_file_that_cannot_serve_ends_the_command_before_any_run(string kafka, string file, string expected)
    {
        var path = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(path, file + "\n");
            await BenchCommandLine.FailsWithOneErrorLine($"run {kafka}--kafka-config {path} --duration 20s", expected);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_Kafka_that_refuses_CreateTopics_ends_the_command_before_any_run()
    {
        // librdkafka's mock cluster without the embedded broker's proxy has no CreateTopics (docs/embedded-broker.md).
        using var cluster = CtrPipeline.Kafka.EmbeddedKafkaCluster.Start(1, []);

        await BenchCommandLine.FailsWithOneErrorLine($"run --kafka {cluster.BootstrapServers} --duration 20s",
            $"--kafka {cluster.BootstrapServers}: the cluster refused to create the run's topics");
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}
