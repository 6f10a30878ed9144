using System.CommandLine;
using System.Globalization;
using CtrPipeline.Analyzer;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;
using CtrPipeline.Bench.Hosts;
using CtrPipeline.Bench.Verification;
using CtrPipeline.Producer;

namespace CtrPipeline.Bench;

/// <summary>`run`: one experiment per engine, one after another, each on its own topics (a fresh embedded broker, or fresh topics on --kafka).</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var engine = new Option<string>("--engine") { Description = EngineHelp, DefaultValueFactory = _ => Engines.NativeContinuous };
        var profile = new Option<string>("--profile") { Description = "Arrival process: poisson (steady) or mmpp (bursty).", DefaultValueFactory = _ => TrafficProfiles.Poisson };
        var rate = new Option<double>("--rate") { Description = "Mean offered rate in events/s.", DefaultValueFactory = _ => 20_000 };
        var duration = new Option<string>("--duration") { Description = "How long the producer sends, e.g. 30s or 2m.", DefaultValueFactory = _ => "30s" };
        var common = new CommonOptions();
        var outOfOrder = new Option<double?>("--out-of-order") { Description = "Fraction of events whose event time lags their send time." };
        var malformed = new Option<double?>("--malformed") { Description = "Fraction of malformed records." };
        var skewedPartitions = new Option<int>("--skewed-partitions") { Description = "A skewed load: this many partitions' event times run --skew behind the others' (each ad to partition ad index modulo --partitions)." };
        var skew = new Option<string>("--skew") { Description = "How far the skewed partitions' event times run behind, e.g. 5s.", DefaultValueFactory = _ => "5s" };
        var verify = new Option<bool>("--verify") { Description = "Check every engine's final rows against the DuckDB oracle." };
        var output = new Option<string>("--out") { Description = "Folder under which each run gets its own folder.", DefaultValueFactory = _ => "runs" };
        var externalProducers = new Option<int>("--producers-external")
        {
            Description = "Start no producers: wait for this many started elsewhere (other machines), each with the environment file the run writes for it (docs/benchmarking.md).",
        };

        var command = new Command("run", "Run one experiment end to end and print one RESULT line per engine.")
        {
            engine, profile, rate, duration, outOfOrder, malformed, skewedPartitions, skew, verify, output, externalProducers,
        };
        common.AddTo(command);
        command.Options.Add(common.OracleRead);
        command.SetAction(async (parse, cancel) => await ConfigurationErrors.ReportAsync(async () =>
        {
            var producer = new ProducerOptions
            {
                Profile = parse.GetValue(profile)!,
                Rate = parse.GetValue(rate),
                Duration = Durations.Parse(parse.GetValue(duration)!, "--duration"),
                Seed = parse.GetValue(common.Seed),
                SkewedPartitions = parse.GetValue(skewedPartitions),
                PartitionSkew = Durations.Parse(parse.GetValue(skew)!, "--skew"),
            };
            if (parse.GetValue(outOfOrder) is { } ooo) producer.OutOfOrderFraction = ooo;
            if (parse.GetValue(malformed) is { } bad) producer.MalformedFraction = bad;
            var pipeline = common.Pipeline(parse, workload: null);
            var targets = EngineTarget.Parse(parse.GetValue(engine)!, common.Postgres(parse));
            var settings = new ExperimentSettings(producer, pipeline, parse.GetValue(verify), parse.GetValue(common.Brokers))
            {
                Warmup = common.WarmupOf(parse, workload: null),
                Producers = parse.GetValue(common.Producers),
                ExternalProducers = parse.GetValue(externalProducers),
            }.Validate();
            settings = await common.PlaceAsync(parse, settings);
            return await RunAsync(settings, targets, parse.GetValue(output)!, cancel);
        }));
        return command;
    }

    public static string EngineHelp =>
        $"Engine(s), comma-separated, or 'all': {string.Join(", ", EngineTarget.All(null).Select(t => t.Name))} ('sql' is sql-sqlite).";

    private static async Task<int> RunAsync(ExperimentSettings settings, IReadOnlyList<EngineTarget> targets, string outputRoot, CancellationToken cancel)
    {
        var catalog = CampaignCatalog.Load(settings.Pipeline.CatalogPath);
        var runFolder = Path.Combine(outputRoot,
            string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{settings.Producer.Profile}-{settings.Producer.Rate:0}"));
        Directory.CreateDirectory(runFolder);

        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        var progress = new ConsoleProgress();
        var reports = new List<EngineRunReport>();
        var (runnable, skipped) = Benchmark.Plan(targets, settings);
        foreach (var s in skipped) Console.WriteLine($"[{s.Engine}] skipped: {s.Reason}");
        foreach (var target in runnable)
        {
            progress.Phase(target.Name, $"starting: {settings.Producer.Profile} at {settings.Producer.Rate:N0} events/s for {Durations.Format(settings.Duration)}{Where(settings)}");
            var report = (await new Experiment(settings, target, catalog, logs, progress, runFolder).RunAsync(cancel)).Report;
            reports.Add(report);
            await File.WriteAllTextAsync(Path.Combine(runFolder, $"{target.Name}.json"), report.ToJson(), cancel);
            Summarize(report);
        }

        await File.WriteAllTextAsync(Path.Combine(runFolder, "summary.json"),
            System.Text.Json.JsonSerializer.Serialize(reports, BenchJson.Default.ListEngineRunReport), cancel);
        Console.WriteLine($"run folder: {Path.GetFullPath(runFolder)}");
        foreach (var report in reports) Console.WriteLine(report.ResultLine());
        return reports.Any(r => r.Oracle.Verdict == OracleVerdict.Mismatch) ? 1 : 0;
    }

    /// <summary>Where the engine runs and which Kafka it reads, for the run's first line.</summary>
    private static string Where(ExperimentSettings settings) =>
        (settings.Host == EngineHost.Services ? $", as a service of the AppHost ({settings.Mode} mode)" : "") +
        (settings.Kafka.Mode == "cluster" ? " on fresh topics of the Kafka cluster given by --kafka"
            : settings.Host == EngineHost.Services ? $" on the AppHost's {(settings.Mode == "containers" ? "Kafka container" : "embedded broker")}"
            : " on an embedded in-memory broker");

    private static void Summarize(EngineRunReport r)
    {
        var lag = r.Host == "services"
            ? "consumer lag not seen (the engine runs as a service; judged from its results)"
            : string.Create(CultureInfo.InvariantCulture, $"consumer lag max {r.MaxConsumerLag:N0}, at end {r.EndConsumerLag:N0}, trend {r.LagTrendPerSecond:0.#}/s");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{r.Engine}] produced {r.Events:N0} events ({r.AchievedRate:N0}/s, max schedule lag {r.MaxScheduleLagMs:0.#} ms); {lag}; " +
            $"newest final window at most {r.FinalsBehindMs / 1000:0.0} s behind the clock (allowed {r.FinalsAllowedMs / 1000:0.0} s): {(r.Sustained ? "sustained" : "NOT sustained")}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{r.Engine}] L1 p50 {r.L1.P50:0.#} p99 {r.L1.P99:0.#} p99.9 {r.L1.P999:0.#} max {r.L1.Max:0.#} ms " +
            $"({r.WarmupResults:N0} rows of the first {r.WarmupSeconds:0.#} s left out as warm-up); " +
            $"L2 ({r.KafkaTimestampType}) p99 {r.L2.P99:0.###} ms; L2 by analyzer receipt p99 {r.L2Received.P99:0.#} ms"));
        if (r.KafkaTimestampType == "CreateTime")
            Console.WriteLine($"[{r.Engine}] note: the broker keeps the producer's CreateTime, so L2 ends at the engine's produce call; the received-at figure includes the broker and the analyzer's fetch.");
        Console.WriteLine($"[{r.Engine}] oracle: {r.Oracle.VerdictText} ({r.Oracle.EventsRead:N0} events read, {r.Oracle.ExpectedRows} expected rows, {r.Oracle.EngineRows} final engine rows, {r.Oracle.Differences} differences)");
        foreach (var example in r.Oracle.Examples) Console.WriteLine($"[{r.Engine}]   {example}");
    }
}

/// <summary>Options `run` and `benchmark` share: pipeline settings, seed, Kafka, PostgreSQL.</summary>
internal sealed class CommonOptions
{
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the generator (same seed, same events).", DefaultValueFactory = _ => 42 };
    public Option<string> Window { get; } = new("--window") { Description = "Tumbling window size.", DefaultValueFactory = _ => Durations.Format(PipelineSettings.Defaults.WindowSize) };
    public Option<string> Watermark { get; } = new("--watermark") { Description = "Watermark delay (bounded out-of-orderness).", DefaultValueFactory = _ => Durations.Format(PipelineSettings.Defaults.WatermarkDelay) };
    public Option<string> Trigger { get; } = new("--trigger") { Description = "Micro-batch trigger and SQL aggregation interval.", DefaultValueFactory = _ => Durations.Format(PipelineSettings.Defaults.TriggerInterval) };
    public Option<int> Partitions { get; } = new("--partitions") { Description = "Partitions of every topic.", DefaultValueFactory = _ => PipelineSettings.DefaultPartitions };
    public Option<int> Brokers { get; } = new("--brokers") { Description = "Brokers of the embedded cluster.", DefaultValueFactory = _ => 1 };
    public Option<string> Warmup { get; } = new("--warmup")
    {
        Description = "The start of each run's load left out of the latency percentiles (and at least its first window); 0s keeps every row.",
        DefaultValueFactory = _ => Durations.Format(AnalyzerOptions.DefaultWarmup),
    };
    public Option<string?> PostgresOption { get; } = new("--postgres") { Description = $"PostgreSQL connection string for sql-postgres (default: the {PostgresVariable} environment variable)." };
    public Option<string?> Kafka { get; } = new("--kafka")
    {
        Description = "Bootstrap servers of a Kafka cluster (2.4 or later) to run on instead of an embedded broker; every run gets fresh topics there.",
    };
    public Option<string?> KafkaConfig { get; } = new("--kafka-config")
    {
        Description = "A client properties file in librdkafka's names (as kcat -F reads it: security.protocol, sasl.*, ssl.*) for the --kafka cluster; every client of the run uses it, the engines and Flink and Spark included. Its bootstrap.servers may stand for --kafka.",
    };
    public Option<string> OracleRead { get; } = new("--oracle-read")
    {
        Description = "With --verify, how the oracle reads the run's events: auto (after the load where the cluster's retention keeps the run, else live), live (a tap in its own process while the run happens) or after-load.",
        DefaultValueFactory = _ => "auto",
    };
    public Option<int?> Producers { get; } = new("--producers")
    {
        Description = "Producer processes that make the load, each its share of the rate: 0 makes it in this process; default one per 200,000 events/s.",
    };
    public Option<bool> KeepTopics { get; } = new("--keep-topics") { Description = "With --kafka: keep each run's topics instead of deleting them afterwards." };
    public Option<string> Host { get; } = new("--host")
    {
        Description = "Where the engines run: inprocess (in this process, the default) or services (each its own process, or cluster, as the AppHost runs it).",
        DefaultValueFactory = _ => "inprocess",
    };
    public Option<string> Mode { get; } = new("--mode")
    {
        Description = "With --host services: the AppHost's mode, auto (containers when a container runtime runs), embedded or containers (Kafka, Flink, Spark, PostgreSQL containers).",
        DefaultValueFactory = _ => "auto",
    };

    public Option<string[]> ConnectionStrings { get; } = new("--connection-string")
    {
        Description = "With --host services: an existing cluster for the AppHost, name=value, as its ConnectionStrings: flink-gateway, flink-rest, spark-connect (repeatable).",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The clusters --connection-string may name (Kafka has --kafka, PostgreSQL --postgres).</summary>
    private static readonly string[] ServiceConnectionNames =
        [CtrPipeline.AppHost.ApacheFlink.GatewayConnection, CtrPipeline.AppHost.ApacheFlink.RestConnection, CtrPipeline.AppHost.ApacheSpark.Connection];

    /// <summary>Whether a container runtime can run containers; tests fake it.</summary>
    internal static Func<bool> ContainerRuntimeProbe { get; set; } = () => CtrPipeline.AppHost.ContainerRuntime.IsHealthy(TimeSpan.FromSeconds(5));

    public const string PostgresVariable = "CTR_POSTGRES";

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Seed, Window, Watermark, Trigger, Partitions, Brokers, Warmup, PostgresOption, Kafka, KafkaConfig, KeepTopics, Producers, Host, Mode, ConnectionStrings }) command.Options.Add(option);
    }

    public string? Postgres(ParseResult parse) =>
        parse.GetValue(PostgresOption) ?? (Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } s ? s : null);

    /// <summary>The pipeline settings: an option given on the command line wins over the workload's value, which wins over the option's default.</summary>
    public PipelineSettings Pipeline(ParseResult parse, Workload? workload) => new()
    {
        WindowSize = Durations.Parse(Pick(parse, Window, workload, w => w.Window), "--window"),
        WatermarkDelay = Durations.Parse(Pick(parse, Watermark, workload, w => w.Watermark), "--watermark"),
        TriggerInterval = Durations.Parse(Pick(parse, Trigger, workload, w => w.Trigger), "--trigger"),
        Partitions = Pick(parse, Partitions, workload, w => w.Partitions),
    };

    /// <summary>
    /// Where the runs happen: the host (--host), the AppHost's mode for the services host (auto resolved now, by asking
    /// the container runtime), and the runs' Kafka (--kafka, checked now).
    /// </summary>
    public async Task<ExperimentSettings> PlaceAsync(ParseResult parse, ExperimentSettings settings)
    {
        var host = EngineHosts.Parse(parse.GetValue(Host)!);
        ConfigurationException.Require(settings.Verify || parse.GetResult(OracleRead) is null or { Implicit: true },
            "--oracle-read goes with --verify: it is how the oracle reads the run's events.");
        // run and benchmark have --oracle-read; a command without it keeps the default.
        if (parse.GetValue(OracleRead) is { } oracleRead) settings = settings with { OracleRead = EventsReads.Parse(oracleRead) };
        var mode = parse.GetValue(Mode)!.Trim();
        ConfigurationException.Require(mode is "auto" or "embedded" or "containers", $"--mode must be auto, embedded or containers (got '{mode}').");
        var connections = new Dictionary<string, string>();
        foreach (var text in parse.GetValue(ConnectionStrings) ?? [])
        {
            var equals = text.IndexOf('=');
            ConfigurationException.Require(equals > 0 && equals < text.Length - 1, $"--connection-string must be name=value (got '{text}').");
            var name = text[..equals];
            ConfigurationException.Require(ServiceConnectionNames.Contains(name),
                $"--connection-string {name}: the services host takes {string.Join(", ", ServiceConnectionNames)} (Kafka: --kafka; PostgreSQL: --postgres).");
            connections[name] = text[(equals + 1)..];
        }
        if (host == EngineHost.InProcess)
        {
            ConfigurationException.Require(parse.GetResult(Mode) is null or { Implicit: true }, "--mode goes with --host services: it is the AppHost's mode.");
            ConfigurationException.Require(connections.Count == 0, "--connection-string goes with --host services: it names a cluster for the AppHost.");
            return settings with { Kafka = await KafkaOf(parse, settings.Pipeline.Partitions) };
        }
        ConfigurationException.Require(parse.GetResult(Brokers) is null or { Implicit: true }, "--brokers sizes the in-process embedded broker; --host services uses the AppHost's.");
        if (mode == "auto") mode = ContainerRuntimeProbe() ? "containers" : "embedded";
        // Without --kafka the AppHost brings its own (embedded broker or Kafka container); with it, the cluster.
        var kafka = parse.GetValue(Kafka) is null && parse.GetValue(KafkaConfig) is null ? settings.Kafka : await KafkaOf(parse, settings.Pipeline.Partitions);
        return settings with { Host = host, Mode = mode, Kafka = kafka, ServiceConnections = connections };
    }

    /// <summary>
    /// The runs' Kafka: an embedded cluster of --brokers brokers per run, or with --kafka the given cluster, checked
    /// now (it answers and accepts CreateTopics) so that a wrong address ends the command before any run.
    /// </summary>
    public async Task<RunKafka> KafkaOf(ParseResult parse, int partitions)
    {
        var properties = parse.GetValue(KafkaConfig) is { } file ? KafkaClientProperties.Load(Path.GetFullPath(file)) : KafkaClientProperties.None;
        var given = parse.GetValue(Kafka);
        ConfigurationException.Require(given is null || properties.BootstrapServers is null || given == properties.BootstrapServers,
            $"--kafka {given} and bootstrap.servers {properties.BootstrapServers} in {properties.Source} name different clusters; give one.");
        if ((given ?? properties.BootstrapServers) is not { } bootstrap)
        {
            ConfigurationException.Require(parse.GetValue(KafkaConfig) is null,
                "--kafka-config goes with --kafka (or a bootstrap.servers line in the file): the embedded broker of a run takes no client properties.");
            ConfigurationException.Require(!parse.GetValue(KeepTopics), "--keep-topics goes with --kafka: an embedded broker's topics live only as long as its run.");
            return RunKafka.Embedded(parse.GetResult(Brokers) is null ? 1 : parse.GetValue(Brokers)); // catchup has no --brokers
        }
        ConfigurationException.Require(parse.GetResult(Brokers) is null or { Implicit: true },
            "--brokers sizes the embedded broker; with --kafka the runs use your cluster's brokers.");
        return await RunKafka.ClusterAsync(new KafkaConnection(bootstrap, properties), parse.GetValue(KeepTopics), partitions);
    }

    /// <summary>The warm-up: the command line wins over the workload's value.</summary>
    public TimeSpan WarmupOf(ParseResult parse, Workload? workload) => Durations.Parse(Pick(parse, Warmup, workload, w => w.Warmup), "--warmup");

    public static T Pick<T>(ParseResult parse, Option<T> option, Workload? workload, Func<Workload, T> value) =>
        parse.GetResult(option) is { Implicit: false } || workload is null ? parse.GetValue(option)! : value(workload);
}

/// <summary>A bad setting ends a command with one "error:" line and exit code 2; a system that fails it (a database) with exit code 1.</summary>
internal static class ConfigurationErrors
{
    public static async Task<int> ReportAsync(Func<Task<int>> command)
    {
        try
        {
            return await command();
        }
        catch (ConfigurationException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        catch (WorkerFailedException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
    }
}
