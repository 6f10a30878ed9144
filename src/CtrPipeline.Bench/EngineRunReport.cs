using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using CtrPipeline.Bench.Measurement;

namespace CtrPipeline.Bench;

/// <summary>Latency percentiles in milliseconds.</summary>
public sealed record Percentiles(long Count, double P50, double P90, double P99, double P999, double Max);

/// <summary>
/// Everything one engine's run measured, with what produced it (docs/architecture.md, measurement rules). <see cref="Results"/> counts every
/// row the engine published; the latency percentiles cover the <see cref="MeasuredResults"/> rows published while the
/// load ran, not the rows of the end-of-input drain (their L1 would include the wait for the run to end), nor the
/// <see cref="WarmupResults"/> rows of the load's first <see cref="WarmupSeconds"/> (and first window).
/// <see cref="Database"/> is the database the SQL engine wrote to (product and version); null for the other engines.
/// </summary>
public sealed record EngineRunReport(
    string Engine,
    string Profile,
    double Rate,
    double DurationSeconds,
    int Seed,
    string Mode,
    string Broker,
    int MachineCores,
    string WindowSize,
    string WatermarkDelay,
    int Partitions,
    long Events,
    long Malformed,
    double AchievedRate,
    double MaxScheduleLagMs,
    long Results,
    long MeasuredResults,
    double WarmupSeconds,
    long WarmupResults,
    Percentiles L1,
    Percentiles L2,
    Percentiles L2Received,
    string KafkaTimestampType,
    long Late,
    long Bad,
    long MaxConsumerLag,
    long EndConsumerLag,
    double LagTrendPerSecond,
    bool Sustained,
    OracleReport Oracle,
    string? Database = null)
{
    /// <summary>Where the engine ran: inprocess, or services (its own process or cluster, through the AppHost).</summary>
    public string Host { get; init; } = "inprocess";

    /// <summary>
    /// How far the newest final window's end trailed the clock at most over the second half of the load, ms, and the
    /// most a keeping-up engine may trail (<see cref="FinalsTracker"/>).
    /// </summary>
    public double FinalsBehindMs { get; init; }

    public double FinalsAllowedMs { get; init; }

    /// <summary>The rows the engine says it published (its own count in process, its output topic's as a service).</summary>
    public long EngineRows { get; init; }

    /// <summary>How the oracle read the events: live (a tap process while the run happened), after-load, or none (not verified).</summary>
    public string OracleRead { get; init; } = "none";

    /// <summary>
    /// Whether the latencies cover what the engine did: complete; short, when the analyzer read fewer rows than the
    /// engine published; or no-rows-past-warmup, when it measured none.
    /// </summary>
    public string Measurement => Results < EngineRows ? "short" : MeasuredResults == 0 ? "no-rows-past-warmup" : "complete";

    /// <summary>
    /// The engine's cost from the load's start to the end of its catch-up: CPU seconds per million delivered events,
    /// its peak resident memory in MiB (since it started) and how many cores it kept busy on average. Null where not
    /// measured: in process (the engine's threads are the benchmark's), off Linux.
    /// </summary>
    public double? CpuSecondsPerMillionEvents { get; init; }

    public double? PeakRssMb { get; init; }

    public double? AverageCores { get; init; }

    /// <summary>
    /// The apparatus's cost over the same time: this benchmark process (with the AppHost's model) and the load's own
    /// processes. Null where not measured: in process too, where this process's CPU is the engine's as well.
    /// </summary>
    public double? ApparatusCpuSecondsPerMillionEvents { get; init; }

    public double? ApparatusAverageCores { get; init; }

    /// <summary>This report with the engine's and the apparatus's cost (null: not measured) per its delivered events.</summary>
    public EngineRunReport WithCost(Cost? engine, Cost? apparatus) => this with
    {
        CpuSecondsPerMillionEvents = engine?.CpuSecondsPerMillion(Events),
        PeakRssMb = engine?.PeakRssMb,
        AverageCores = engine?.AverageCores,
        ApparatusCpuSecondsPerMillionEvents = apparatus?.CpuSecondsPerMillion(Events),
        ApparatusAverageCores = apparatus?.AverageCores,
    };

    /// <summary>
    /// The machine-readable line docs/benchmarking.md documents; one per engine. It says whether the rate was
    /// sustained and how far the load and the final rows trailed, and a figure that was not measured reads
    /// <c>none</c>, never 0: a latency with no measured row, a trail with no sample, a cost not measured.
    /// </summary>
    public string ResultLine() => string.Create(CultureInfo.InvariantCulture,
        $"RESULT engine={Engine} profile={Profile} rate={Rate:0} events={Events} results={Results} engine_rows={EngineRows} measured_rows={MeasuredResults} measurement={Measurement} " +
        $"l1_p50_ms={Ms(L1.P50, L1.Count)} l1_p99_ms={Ms(L1.P99, L1.Count)} l2_p99_ms={Ms(L2.P99, L2.Count)} warmup_rows={WarmupResults} late={Late} bad={Bad} " +
        $"schedule_lag_max_ms={Ms(MaxScheduleLagMs, 1)} finals_behind_ms={Ms(FinalsBehindMs, 1)} sustained={(Sustained ? "true" : "false")} oracle={Oracle.VerdictText} oracle_read={OracleRead} " +
        $"cpu_s_per_million_events={Figure(CpuSecondsPerMillionEvents, "0.##")} peak_rss_mb={Figure(PeakRssMb, "0.#")} cores={Figure(AverageCores, "0.##")} " +
        $"apparatus_cpu_s_per_million_events={Figure(ApparatusCpuSecondsPerMillionEvents, "0.##")} apparatus_cores={Figure(ApparatusAverageCores, "0.##")}");

    private static string Ms(double value, long count) =>
        count == 0 || !double.IsFinite(value) ? "none" : value.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>A figure, or none when it was not measured.</summary>
    internal static string Figure(double? value, string format) =>
        value is { } v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "none";

    public string ToJson() => JsonSerializer.Serialize(this, BenchJson.Default.EngineRunReport);
}

// Named floating-point literals: a NaN (e.g. an unknown L2) must not make the report fail at the end of a long benchmark.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, UseStringEnumConverter = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(EngineRunReport))]
[JsonSerializable(typeof(List<EngineRunReport>))]
[JsonSerializable(typeof(Reporting.BenchmarkResults))]
internal sealed partial class BenchJson : JsonSerializerContext;
