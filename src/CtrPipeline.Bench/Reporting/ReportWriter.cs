using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CtrPipeline.Bench.Reporting;

/// <summary>
/// Turns a <see cref="BenchmarkResults"/> into a report folder: report.md (tables and embedded plots), results.json,
/// runs.csv, samples/*.csv and PNG plots. Everything is written with the invariant culture so that reports from
/// different machines diff cleanly.
/// </summary>
public static class ReportWriter
{
    public const string Markdown = "report.md", Json = "results.json", RunsCsv = "runs.csv", SamplesFolder = "samples";

    /// <summary>Writes the report folder; returns the paths written.</summary>
    public static IReadOnlyList<string> Write(BenchmarkResults results, string folder)
    {
        Directory.CreateDirectory(Path.Combine(folder, SamplesFolder));
        var ids = RunIds(results.Runs);
        var written = new List<string>();
        void Save(string relative, string text)
        {
            var path = Path.Combine(folder, relative);
            File.WriteAllText(path, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            written.Add(path);
        }

        // The samples go to CSV (they are the bulk of the data); results.json keeps their lists empty so it stays readable.
        var summary = results with { Runs = [.. results.Runs.Select(r => r with { Latencies = [], Load = [] })] };
        Save(Json, JsonSerializer.Serialize(summary, BenchJson.Default.BenchmarkResults));
        Save(RunsCsv, RunsTable(results, ids));
        // Samples are rounded to microseconds and tenths of an event/s: further digits are noise that only grows the files.
        for (var i = 0; i < results.Runs.Count; i++)
        {
            Save(LatencyCsv(ids[i]), Csv(["at_s", "l1_ms", "l2_ms"],
                results.Runs[i].Latencies.Select(s => new object[] { Math.Round(s.AtSeconds, 3), Math.Round(s.L1Ms, 3), Math.Round(s.L2Ms, 3) })));
            Save(LoadCsv(ids[i]), Csv(["at_s", "offered_rate", "consumed_rate", "consumer_lag"],
                results.Runs[i].Load.Select(s => new object[] { Math.Round(s.AtSeconds, 3), Math.Round(s.OfferedRate, 1), Math.Round(s.ConsumedRate, 1), s.ConsumerLag })));
        }
        written.AddRange(Plots.WriteAll(results, ids, folder));
        Save(Markdown, MarkdownReport.Render(results, ids));
        return written;
    }

    /// <summary>
    /// One id per run, in run order: engine-profile-rate (e.g. native-continuous-poisson-20000), lower case and
    /// filesystem-safe, with -2, -3... when the same combination ran more than once.
    /// </summary>
    public static IReadOnlyList<string> RunIds(IReadOnlyList<RunData> runs)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        return [.. runs.Select(r =>
        {
            var id = Safe(string.Create(CultureInfo.InvariantCulture, $"{r.Report.Engine}-{r.Report.Profile}-{r.Report.Rate:0.##}"));
            var n = seen[id] = seen.GetValueOrDefault(id) + 1;
            return n == 1 ? id : $"{id}-{n}";
        })];
    }

    internal static string LatencyCsv(string runId) => $"{SamplesFolder}/{runId}-latency.csv";

    internal static string LoadCsv(string runId) => $"{SamplesFolder}/{runId}-load.csv";

    /// <summary>The search for this run's engine, of the same profile when there is one, if the benchmark ran any.</summary>
    internal static ThroughputSearch? SearchFor(BenchmarkResults results, EngineRunReport run) =>
        results.Searches.Where(s => s.Engine == run.Engine).OrderBy(s => s.Profile == run.Profile ? 0 : 1).FirstOrDefault();

    private static string Safe(string text)
    {
        var chars = text.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-').ToArray();
        return new string(chars).Trim('-', '.') is { Length: > 0 } id ? id : "run";
    }

    private static string RunsTable(BenchmarkResults results, IReadOnlyList<string> ids) => Csv(
        ["run_id", "engine", "profile", "mode", "rate", "duration_s", "achieved_rate", "sustainable_rate", "events", "malformed",
         "results", "measured_results",
         "l1_count", "l1_p50_ms", "l1_p90_ms", "l1_p99_ms", "l1_p999_ms", "l1_max_ms",
         "l2_count", "l2_p50_ms", "l2_p90_ms", "l2_p99_ms", "l2_p999_ms", "l2_max_ms",
         "warmup_rows", "late", "bad", "sustained", "max_consumer_lag", "end_consumer_lag", "lag_trend_per_s", "oracle", "oracle_differences",
         "seed", "kafka_timestamp_type", "host", "finals_behind_ms",
         "cpu_s_per_million_events", "peak_rss_mb", "average_cores", "apparatus_cpu_s_per_million_events", "apparatus_average_cores"],
        results.Runs.Select((run, i) =>
        {
            var r = run.Report;
            return new object?[]
            {
                ids[i], r.Engine, r.Profile, r.Mode, r.Rate, r.DurationSeconds, r.AchievedRate, SearchFor(results, r)?.SustainableRate,
                r.Events, r.Malformed, r.Results, r.MeasuredResults,
                r.L1.Count, r.L1.P50, r.L1.P90, r.L1.P99, r.L1.P999, r.L1.Max,
                r.L2.Count, r.L2.P50, r.L2.P90, r.L2.P99, r.L2.P999, r.L2.Max,
                r.WarmupResults, r.Late, r.Bad, r.Sustained, r.MaxConsumerLag, r.EndConsumerLag, r.LagTrendPerSecond, r.Oracle.VerdictText,
                r.Oracle.Differences, r.Seed, r.KafkaTimestampType, r.Host, r.FinalsBehindMs,
                r.CpuSecondsPerMillionEvents, r.PeakRssMb, r.AverageCores, r.ApparatusCpuSecondsPerMillionEvents, r.ApparatusAverageCores,
            };
        }));

    private static string Csv(IReadOnlyList<string> header, IEnumerable<object?[]> rows)
    {
        var csv = new StringBuilder().AppendJoin(',', header).Append('\n');
        foreach (var row in rows)
            csv.AppendJoin(',', row.Select(CsvField)).Append('\n');
        return csv.ToString();
    }

    private static string CsvField(object? value)
    {
        var text = value switch
        {
            null => "",
            double d when !double.IsFinite(d) => "", // L2 is NaN for a result record without a Kafka timestamp
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        return text.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? $"\"{text.Replace("\"", "\"\"")}\"" : text;
    }
}

/// <summary>Number formats shared by the markdown and the plots.</summary>
internal static class Format
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Milliseconds with precision that fits the magnitude: 0.42, 12.3, 1,234.</summary>
    public static string Ms(double ms) =>
        double.IsFinite(ms) ? ms.ToString(Math.Abs(ms) < 10 ? "0.00" : Math.Abs(ms) < 100 ? "0.0" : "#,0", Inv) : "–";

    /// <summary>A percentile, or a dash when nothing was measured.</summary>
    public static string Ms(Percentiles p, Func<Percentiles, double> pick) => p.Count == 0 ? "–" : Ms(pick(p));

    public static string Rate(double perSecond) => perSecond.ToString("#,0", Inv);

    public static string Count(long n) => n.ToString("#,0", Inv);

    public static string Signed(double v) => v.ToString("+#,0.#;-#,0.#;0", Inv);

    /// <summary>A cost figure with two decimals at most, or "none" when it was not measured.</summary>
    public static string Figure(double? v) => v is { } x && double.IsFinite(x) ? x.ToString("#,0.##", Inv) : "none";

    /// <summary>The name a run goes by in legends: engine (profile, rate/s).</summary>
    public static string Label(EngineRunReport r) => $"{r.Engine} ({r.Profile}, {Rate(r.Rate)}/s)";
}
