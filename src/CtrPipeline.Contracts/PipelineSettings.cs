using static CtrPipeline.Contracts.ConfigurationException;

namespace CtrPipeline.Contracts;

/// <summary>
/// The settings every component shares, bound from the "Pipeline" configuration section
/// (environment variables Pipeline__WindowSize and so on). Defined once here, never repeated.
/// </summary>
public sealed class PipelineSettings
{
    public const string Section = "Pipeline";

    /// <summary>The default of <see cref="Partitions"/>, as a constant for parameter defaults.</summary>
    public const int DefaultPartitions = 4;

    /// <summary>
    /// Every setting at its default: what the command line, workload files and the AppHost's parameters fall back to,
    /// so each default is written once, here (a new instance each time: settings are mutable).
    /// </summary>
    public static PipelineSettings Defaults => new();

    public TopicNames Topics { get; set; } = new();

    /// <summary>Partitions of the events topic (the results and side topics get the same count).</summary>
    public int Partitions { get; set; } = DefaultPartitions;

    /// <summary>Tumbling event-time window size.</summary>
    public TimeSpan WindowSize { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Bounded out-of-orderness: the watermark trails the newest event time by this much.</summary>
    public TimeSpan WatermarkDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A partition that has sent nothing for this long stops holding the watermark back.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the watermark is re-evaluated when no record arrives (the watermark's tick).</summary>
    public TimeSpan WatermarkInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Processing-time trigger of the micro-batch engines.</summary>
    public TimeSpan TriggerInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The event-time guard: an event stamped more than this ahead of the engine's clock, or at or before the epoch
    /// (event_time &lt;= 0), is dead-lettered as "event time out of range" and never moves the watermark. One record
    /// from a producer with a broken clock would otherwise close every window up to its time (docs/contract.md).
    /// </summary>
    public TimeSpan MaxEventTimeSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>CSV file with the static campaign catalog that every engine joins with.</summary>
    public string CatalogPath { get; set; } = "";

    /// <summary>
    /// <paramref name="name"/> for the run whose events topic this is: the name itself on the default topics, else
    /// &lt;name&gt;-&lt;events topic&gt;, so that runs on their own topics (Parameters:topic-prefix, the benchmark's fresh
    /// topics) never share a name that holds state: a checkpoint, a job, a transactional id. Characters outside a Kafka
    /// topic name's (letters, digits, '.', '_', '-') become '_', so the result is also safe in a path.
    /// </summary>
    public string RunScoped(string name) => Topics.Events == new TopicNames().Events
        ? name
        : $"{name}-{string.Concat(Topics.Events.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '_'))}";

    /// <summary>
    /// The environment variables a service binds back to these settings (Pipeline__WindowSize and so on): the one
    /// translation the AppHost and the fault runner both give their workers, so none of them gets fewer settings.
    /// <paramref name="catalogPath"/> is the catalog as the worker finds it, when not <see cref="CatalogPath"/>.
    /// </summary>
    public IReadOnlyDictionary<string, string> Environment(string? catalogPath = null)
    {
        static string Duration(TimeSpan value) => value.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
        const string prefix = Section + "__";
        return new Dictionary<string, string>
        {
            [prefix + nameof(Partitions)] = Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [prefix + nameof(WindowSize)] = Duration(WindowSize),
            [prefix + nameof(WatermarkDelay)] = Duration(WatermarkDelay),
            [prefix + nameof(IdleTimeout)] = Duration(IdleTimeout),
            [prefix + nameof(WatermarkInterval)] = Duration(WatermarkInterval),
            [prefix + nameof(TriggerInterval)] = Duration(TriggerInterval),
            [prefix + nameof(MaxEventTimeSkew)] = Duration(MaxEventTimeSkew),
            [prefix + nameof(CatalogPath)] = catalogPath ?? CatalogPath,
            [prefix + "Topics__" + nameof(TopicNames.Events)] = Topics.Events,
            [prefix + "Topics__" + nameof(TopicNames.Results)] = Topics.Results,
            [prefix + "Topics__" + nameof(TopicNames.DeadLetters)] = Topics.DeadLetters,
            [prefix + "Topics__" + nameof(TopicNames.Late)] = Topics.Late,
        };
    }

    /// <summary>The same settings with other topics.</summary>
    public PipelineSettings WithTopics(TopicNames topics)
    {
        var copy = (PipelineSettings)MemberwiseClone();
        copy.Topics = topics;
        return copy;
    }

    /// <summary>Throws <see cref="ConfigurationException"/> naming the first bad setting.</summary>
    public PipelineSettings Validate()
    {
        Require(Partitions is >= 1 and <= 1024, $"Pipeline:Partitions must be between 1 and 1024 (got {Partitions}).");
        Require(WindowSize > TimeSpan.Zero, $"Pipeline:WindowSize must be positive (got {WindowSize}).");
        Require(WatermarkDelay >= TimeSpan.Zero, $"Pipeline:WatermarkDelay must not be negative (got {WatermarkDelay}).");
        Require(WatermarkInterval > TimeSpan.Zero, $"Pipeline:WatermarkInterval must be positive (got {WatermarkInterval}).");
        Require(WindowSize >= WatermarkInterval,
            $"Pipeline:WindowSize ({WindowSize}) must not be smaller than the watermark's tick, Pipeline:WatermarkInterval ({WatermarkInterval}).");
        Require(IdleTimeout > TimeSpan.Zero, $"Pipeline:IdleTimeout must be positive (got {IdleTimeout}).");
        Require(MaxEventTimeSkew > TimeSpan.Zero, $"Pipeline:MaxEventTimeSkew must be positive (got {MaxEventTimeSkew}).");
        Require(TriggerInterval > TimeSpan.Zero, $"Pipeline:TriggerInterval must be positive (got {TriggerInterval}).");
        Require(Topics.All.Distinct().Count() == Topics.All.Count, "Pipeline:Topics must name four different topics.");
        return this;
    }
}

/// <summary>A setting the user gave is wrong; the message says which and what is allowed.</summary>
public class ConfigurationException(string message) : Exception(message)
{
    /// <summary>Throws a <see cref="ConfigurationException"/> with <paramref name="message"/> unless <paramref name="condition"/> holds.</summary>
    public static void Require(bool condition, string message)
    {
        if (!condition) throw new ConfigurationException(message);
    }
}

/// <summary>
/// The work cannot go on (a system the worker depends on refused it or lost it); the message says why, in that
/// system's words where it gave any. The worker ends with it as one error line and exit code 1, no stack trace.
/// </summary>
public class WorkerFailedException(string message) : Exception(message);
