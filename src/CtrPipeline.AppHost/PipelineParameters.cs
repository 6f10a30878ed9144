using System.Globalization;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

namespace CtrPipeline.AppHost;

public enum PipelineMode { Auto, Embedded, Containers }

/// <summary>
/// What a user chooses when starting the AppHost, from the "Parameters" configuration section:
/// <c>dotnet run --project src/CtrPipeline.AppHost -- --Parameters:rate=50000</c> or <c>Parameters__rate=50000</c>.
/// Validated up front with the same rules the services apply, so a bad value stops the AppHost with one message
/// instead of leaving crashed resources in the dashboard.
/// </summary>
/// <param name="ChosenEngines">The engines asked for; null for "all", which depends on the mode (see <see cref="EnginesFor"/>).</param>
/// <param name="FlinkKafka">Kafka as the Flink cluster reaches it, when that is not what the AppHost knows (an existing cluster).</param>
/// <param name="SparkKafka">Kafka as the Spark server reaches it, for an existing server.</param>
/// <param name="SparkCatalog">The campaign catalog as the Spark server reads it, when not the file the AppHost mounts.</param>
/// <param name="FlinkParallelism">The Flink job's parallelism (Flink:Parallelism); 0 means one task per events partition.</param>
/// <param name="Partitions">Partitions of every pipeline topic.</param>
/// <param name="TriggerInterval">The micro-batch engines' processing-time trigger (Pipeline:TriggerInterval); null: the default.</param>
/// <param name="TopicPrefix">
/// Names every pipeline topic (and the exactly-once engine's state topic) &lt;prefix&gt;-&lt;name&gt;: the benchmark's
/// fresh topics of one run on a shared Kafka cluster. Null: the default names.
/// </param>
/// <param name="ExternalLoad">
/// load=external: no producer and no analyzer; something outside the AppHost (the benchmark's services host) sends the
/// load and measures the results.
/// </param>
public sealed record PipelineParameters(
    PipelineMode Mode, IReadOnlyList<string>? ChosenEngines, string Profile, double Rate, TimeSpan WindowSize, TimeSpan WatermarkDelay, int? KafkaPort,
    double TracesPerSecond, string? FlinkKafka = null, string? SparkKafka = null, string? SparkCatalog = null,
    int FlinkParallelism = 0, int Partitions = PipelineSettings.DefaultPartitions, bool ExternalLoad = false, string? TopicPrefix = null, KafkaClientProperties? KafkaClient = null,
    TimeSpan? TriggerInterval = null)
{
    public const string Section = "Parameters";

    /// <summary>The secret parameter that gives every service the SASL password of an existing cluster (sasl.password).</summary>
    public const string KafkaPasswordParameter = "kafka-password";

    public static PipelineParameters From(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        string Get(string key, string fallback) => section[key] is { Length: > 0 } value ? value : fallback;
        string? Optional(string key) => section[key] is { Length: > 0 } value ? value : null;

        var modeText = Get("mode", "auto");
        if (!Enum.TryParse<PipelineMode>(modeText, ignoreCase: true, out var mode) || !Enum.IsDefined(mode))
            throw new ConfigurationException($"Parameters:mode must be auto, embedded or containers (got '{modeText}').");
        var rateText = Get("rate", "5000");
        if (!double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || !double.IsFinite(rate) || rate <= 0)
            throw new ConfigurationException($"Parameters:rate must be a positive number of events/s (got '{rateText}').");

        var tracesText = Get("traces", "2");
        if (!double.TryParse(tracesText, NumberStyles.Float, CultureInfo.InvariantCulture, out var traces) || !double.IsFinite(traces) || traces < 0)
            throw new ConfigurationException($"Parameters:traces must be the number of events traced per second, 0 for none (got '{tracesText}').");

        var portText = Get("kafka-port", "9092");
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
            throw new ConfigurationException($"Parameters:kafka-port must be a TCP port, or 0 for any free port (got '{portText}').");

        var parallelismText = Get("flink-parallelism", "0");
        if (!int.TryParse(parallelismText, NumberStyles.None, CultureInfo.InvariantCulture, out var flinkParallelism) || flinkParallelism > 1024)
            throw new ConfigurationException($"Parameters:flink-parallelism must be between 0 (one task per events partition) and 1024 (got '{parallelismText}').");

        var defaults = PipelineSettings.Defaults;
        var partitionsText = Get("partitions", defaults.Partitions.ToString(CultureInfo.InvariantCulture));
        if (!int.TryParse(partitionsText, NumberStyles.None, CultureInfo.InvariantCulture, out var partitions) || partitions is < 1 or > 1024)
            throw new ConfigurationException($"Parameters:partitions must be between 1 and 1024 (got '{partitionsText}').");

        var loadText = Get("load", "internal");
        if (loadText is not ("internal" or "external"))
            throw new ConfigurationException($"Parameters:load must be internal (the AppHost's producer and analyzer) or external (none: the benchmark sends and measures; got '{loadText}').");

        var prefix = Optional("topic-prefix");
        if (prefix is not null && !System.Text.RegularExpressions.Regex.IsMatch(prefix, "^[a-zA-Z0-9._-]{1,200}$"))
            throw new ConfigurationException($"Parameters:topic-prefix must be letters, digits, '.', '_' or '-', at most 200 (got '{prefix}').");

        // A client properties file for an existing cluster (ConnectionStrings:kafka): read once, now, so a bad one stops the AppHost.
        var kafkaClient = Optional("kafka-config") is { } file ? KafkaClientProperties.Load(Path.GetFullPath(file)) : null;

        var engines = Get("engine", "all");
        var parameters = new PipelineParameters(
            mode,
            engines.Trim() == "all" ? null : Engines.ParseList(engines, Engines.All),
            TrafficProfiles.Require(Get("profile", TrafficProfiles.Mmpp)),
            rate,
            Durations.Parse(Get("window", Durations.Format(defaults.WindowSize)), "Parameters:window"),
            Durations.Parse(Get("watermark", Durations.Format(defaults.WatermarkDelay)), "Parameters:watermark"),
            port == 0 ? null : port,
            traces,
            Optional("flink-kafka"),
            Optional("spark-kafka"),
            Optional("spark-catalog"),
            flinkParallelism,
            partitions,
            loadText == "external",
            prefix,
            kafkaClient,
            Durations.Parse(Get("trigger", Durations.Format(defaults.TriggerInterval)), "Parameters:trigger"));
        parameters.Pipeline().Validate();
        return parameters;
    }

    /// <summary>The pipeline settings these parameters imply; every service receives them as Pipeline__* variables.</summary>
    public PipelineSettings Pipeline() => new()
    {
        WindowSize = WindowSize,
        WatermarkDelay = WatermarkDelay,
        TriggerInterval = TriggerInterval ?? new PipelineSettings().TriggerInterval,
        Partitions = Partitions,
        Topics = TopicPrefix is null ? new TopicNames() : new TopicNames().WithPrefix(TopicPrefix),
    };

    /// <summary>A topic's name under <see cref="TopicPrefix"/>.</summary>
    public string Prefixed(string topic) => TopicNames.Scoped(TopicPrefix, topic);

    /// <summary>
    /// Task slots for the Flink TaskManager: one per task of the job, which runs one per events partition unless a
    /// larger parallelism is asked for (a job with more tasks than slots never gets its resources).
    /// </summary>
    public int FlinkTaskSlots => Math.Max(FlinkParallelism, Pipeline().Partitions);

    /// <summary>
    /// The engines this run starts: "all" is the engines that need no container (the native ones and sql, which falls
    /// back to an SQLite file without a PostgreSQL), plus each engine with a cluster of its own where that cluster exists
    /// (containers mode, or an existing one named by its connection string). Asking for such an engine without its
    /// cluster is an error.
    /// </summary>
    /// <param name="externalClusters">The clustered engines whose cluster is given by a connection string.</param>
    public IReadOnlyList<string> EnginesFor(PipelineMode mode, IReadOnlySet<string> externalClusters)
    {
        bool HasCluster(string engine) => mode == PipelineMode.Containers || externalClusters.Contains(engine);
        if (ChosenEngines is null) return [.. Engines.Embedded, .. Engines.Clustered.Where(HasCluster)];
        if (ChosenEngines.FirstOrDefault(e => Engines.Clustered.Contains(e) && !HasCluster(e)) is { } missing)
            throw new ConfigurationException($"The {missing} engine needs a cluster: containers mode (a container runtime; Parameters:mode=containers), "
                + $"or ConnectionStrings:{ClusterConnection(missing)} naming an existing one.");
        return ChosenEngines;
    }

    /// <summary>The connection string that names an existing cluster for a clustered engine.</summary>
    public static string ClusterConnection(string engine) => engine == Engines.Flink ? ApacheFlink.GatewayConnection : ApacheSpark.Connection;

    /// <summary>Embedded unless containers were asked for, or a healthy container runtime was found in auto mode.</summary>
    public PipelineMode Resolve(Func<bool> containerRuntimeIsHealthy) => Mode switch
    {
        PipelineMode.Auto => containerRuntimeIsHealthy() ? PipelineMode.Containers : PipelineMode.Embedded,
        _ => Mode,
    };
}
