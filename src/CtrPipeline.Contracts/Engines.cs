namespace CtrPipeline.Contracts;

/// <summary>The engine ids that appear in results, metrics and reports.</summary>
public static class Engines
{
    public const string NativeContinuous = "native-continuous";
    public const string NativeMicroBatch = "native-microbatch";

    /// <summary>The legacy paradigm: events inserted into a relational database, CTR aggregated by a scheduled SQL query.</summary>
    public const string Sql = "sql";

    /// <summary>Apache Flink, running the CTR job as Flink SQL submitted through its SQL Gateway (containers mode).</summary>
    public const string Flink = "flink";

    /// <summary>Apache Spark Structured Streaming, driven over Spark Connect by SparkDriver (containers mode).</summary>
    public const string Spark = "spark";

    /// <summary>The engines that run in-process, anywhere: the headless runner and embedded mode run these.</summary>
    public static IReadOnlyList<string> Native { get; } = [NativeContinuous, NativeMicroBatch];

    /// <summary>The engines that need no container: the native ones and the SQL engine (on SQLite, or an existing PostgreSQL).</summary>
    public static IReadOnlyList<string> Embedded { get; } = [NativeContinuous, NativeMicroBatch, Sql];

    /// <summary>Engines that run on a cluster of their own (containers mode, or an existing cluster).</summary>
    public static IReadOnlyList<string> Clustered { get; } = [Flink, Spark];

    /// <summary>
    /// The log line every engine worker writes each time it becomes able to process (it holds its partitions, its job
    /// or query runs), as "&lt;engine&gt; ready: ...": what anyone reading a worker's log can wait for, as the benchmark's
    /// services host does (<see cref="ReadyPrefix"/>).
    /// </summary>
    public const string ReadyTemplate = "{Engine} ready: {Detail}";

    /// <summary>The start of <see cref="ReadyTemplate"/> as written for <paramref name="engine"/>.</summary>
    public static string ReadyPrefix(string engine) => $"{engine} ready: ";

    /// <summary>An engine's consumer group unless configured otherwise: one per engine, so engines never share offsets.</summary>
    public static string DefaultGroupId(string engine) => $"ctr-{engine}";

    /// <summary>Every engine.</summary>
    public static IReadOnlyList<string> All { get; } = [.. Embedded, .. Clustered];

    public static string RequireNative(string engine) => Require(engine, Native);

    public static string Require(string engine, IReadOnlyList<string> known) =>
        known.Contains(engine)
            ? engine
            : throw new ConfigurationException($"Unknown engine '{engine}'. Known here: {string.Join(", ", known)}.");

    /// <summary>"all" (every engine in <paramref name="known"/>, the native ones by default), or engine ids separated by commas; each must be known, none twice.</summary>
    public static IReadOnlyList<string> ParseList(string text, IReadOnlyList<string>? known = null)
    {
        known ??= Native;
        if (text.Trim() == "all") return known;
        var engines = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (engines.Length == 0) throw new ConfigurationException($"No engine given. Use 'all' or one of: {string.Join(", ", known)}.");
        foreach (var engine in engines) Require(engine, known);
        if (engines.Distinct().Count() != engines.Length) throw new ConfigurationException($"An engine is listed twice in '{text}'.");
        return engines;
    }
}

/// <summary>The arrival processes the producer can draw from.</summary>
public static class TrafficProfiles
{
    public const string Poisson = "poisson";
    public const string Mmpp = "mmpp";

    public static IReadOnlyList<string> All { get; } = [Poisson, Mmpp];

    public static string Require(string profile) =>
        All.Contains(profile)
            ? profile
            : throw new ConfigurationException($"Unknown profile '{profile}'. Use one of: {string.Join(", ", All)}.");
}
