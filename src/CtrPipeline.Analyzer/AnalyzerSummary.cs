using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Confluent.Kafka;

namespace CtrPipeline.Analyzer;

/// <summary>The definitions of the latencies, as written into every summary so the file explains itself.</summary>
public sealed record LatencyLegend(string L1, string L2, string L2Received)
{
    public static LatencyLegend Default { get; } = new(LatencyDefinitions.L1, LatencyDefinitions.L2, LatencyDefinitions.L2Received);
}

/// <summary>
/// Everything the analyzer knows at one moment: per-engine latencies (milliseconds, HDR histograms), records that were
/// not result rows, and a note when the Kafka timestamps make L2 end at the engine's produce call.
/// </summary>
public sealed record AnalyzerSummary(
    DateTimeOffset WrittenAt, string Unit, long Malformed, string? TimestampNote, LatencyLegend Definitions,
    IReadOnlyList<EngineLatency> Engines)
{
    public static AnalyzerSummary Of(IReadOnlyList<EngineLatency> engines, long malformed, DateTimeOffset writtenAt) => new(
        writtenAt, "ms", malformed,
        engines.Any(e => e.TimestampType == TimestampType.CreateTime) ? LatencyDefinitions.CreateTimeNote : null,
        LatencyLegend.Default, engines);

    public string ToJson() => JsonSerializer.Serialize(this, AnalyzerJson.Default.AnalyzerSummary);

    /// <summary>A compact table for the log: one line per engine, then the malformed count and the timestamp note.</summary>
    public string ToTable()
    {
        var text = new StringBuilder("engine              results   warm-up   L1 p50   L1 p99   L2 p99  L2r p99  timestamps");
        foreach (var e in Engines)
            text.Append(CultureInfo.InvariantCulture,
                $"\n{e.Engine,-18} {e.Results,8} {e.WarmupResults,9} {Ms(e.L1.P50),8} {Ms(e.L1.P99),8} {Ms(e.L2.P99),8} {Ms(e.L2Received.P99),8}  {e.TimestampType}");
        if (Engines.Any(e => e.WarmupResults > 0))
            text.Append("\nPercentiles leave out the warm-up rows: those whose newest event reached Kafka in the load's first Analyzer:Warmup (and first window).");
        if (Malformed > 0) text.Append(CultureInfo.InvariantCulture, $"\n{Malformed} record(s) in the results topic were not result rows.");
        if (TimestampNote is not null) text.Append('\n').Append(TimestampNote);
        return text.ToString();
    }

    private static string Ms(double ms) => string.Create(CultureInfo.InvariantCulture, $"{ms:0.#}ms");
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(AnalyzerSummary))]
internal sealed partial class AnalyzerJson : JsonSerializerContext;
