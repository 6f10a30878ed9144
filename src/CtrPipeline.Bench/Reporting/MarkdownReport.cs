using System.Globalization;
using System.Text;
using static CtrPipeline.Bench.Reporting.Format;

namespace CtrPipeline.Bench.Reporting;

/// <summary>report.md: the comparison first, then the throughput search, what was skipped, where and how it ran, the plots.</summary>
internal static class MarkdownReport
{
    public static string Render(BenchmarkResults results, IReadOnlyList<string> runIds)
    {
        var md = new StringBuilder();
        var started = results.Started.ToUniversalTime();
        md.AppendLine(CultureInfo.InvariantCulture, $"# CTR pipeline benchmark: {results.Workload}, {started:yyyy-MM-dd}")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture,
                $"Ran from {started:yyyy-MM-dd HH:mm:ss} to {results.Finished.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC " +
                $"({(results.Finished - results.Started).TotalMinutes:0.#} min), {results.Runs.Count} run(s).")
            .AppendLine();

        md.AppendLine("## Comparison").AppendLine();
        if (results.Runs.Count == 0)
            md.AppendLine("No run completed.").AppendLine();
        else
            Table(md,
                ["Engine", "Profile", "Offered (events/s)", "Achieved (events/s)", "Duration (s)", "Sustainable (events/s)",
                 "L1 p50 (ms)", "L1 p99 (ms)", "L1 p99.9 (ms)", "L2 p50 (ms)", "L2 p99 (ms)", "L2 p99.9 (ms)",
                 "Late", "Bad", "Sustained", "Oracle", "Host", "Kafka", "L2 timestamps"],
                results.Runs.Select(run =>
                {
                    var r = run.Report;
                    var search = ReportWriter.SearchFor(results, r);
                    return new[]
                    {
                        r.Engine, r.Profile, Rate(r.Rate), Rate(r.AchievedRate), r.DurationSeconds.ToString("0.#", CultureInfo.InvariantCulture),
                        search is null ? "not searched" : search.SustainableText + (search.Profile == r.Profile ? "" : $" ({search.Profile})"),
                        Ms(r.L1, p => p.P50), Ms(r.L1, p => p.P99), Ms(r.L1, p => p.P999),
                        Ms(r.L2, p => p.P50), Ms(r.L2, p => p.P99), Ms(r.L2, p => p.P999),
                        Count(r.Late), Count(r.Bad), r.Sustained ? "yes" : "no", Oracle(r), r.Host, r.Mode, r.KafkaTimestampType,
                    };
                }));
        if (results.Runs.Count > 0)
        {
            md.AppendLine("Where the runs' Kafka was:").AppendLine();
            foreach (var broker in results.Runs.Select(run => $"{run.Report.Mode}: {run.Report.Broker}").Distinct())
                md.AppendLine(CultureInfo.InvariantCulture, $"- {broker}");
            md.AppendLine();
        }

        if (results.Runs.Count > 0)
        {
            md.AppendLine("## Cost").AppendLine()
                .AppendLine("CPU and memory from the load's start to the end of its catch-up, per million events delivered. The engine's figures need it in " +
                            "processes of its own (--host services), and so does the apparatus's: this benchmark's process (with the AppHost's model) and the load's own processes. " +
                            "The broker and the AppHost's orchestrator (DCP) count in neither. None: not measured.")
                .AppendLine();
            Table(md, ["Engine", "Profile", "Offered (events/s)", "Host", "CPU s / M events", "Cores", "Peak RSS (MiB)", "Apparatus CPU s / M events", "Apparatus cores"],
                results.Runs.Select(run =>
                {
                    var r = run.Report;
                    return new[]
                    {
                        r.Engine, r.Profile, Rate(r.Rate), r.Host, Figure(r.CpuSecondsPerMillionEvents), Figure(r.AverageCores),
                        r.PeakRssMb is { } mb ? mb.ToString("#,0", CultureInfo.InvariantCulture) : "none",
                        Figure(r.ApparatusCpuSecondsPerMillionEvents), Figure(r.ApparatusAverageCores),
                    };
                }));
        }

        if (results.Searches.Count > 0)
        {
            md.AppendLine("## Sustainable throughput").AppendLine()
                .AppendLine("Each engine ran at increasing offered rates in short steps; the highest rate at which its consumer lag stayed bounded was then " +
                            "confirmed by one longer run (if that failed, the next lower sustained rate got one). The sustainable throughput is the confirmed rate.")
                .AppendLine();
            foreach (var search in results.Searches)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"### {search.Engine} ({search.Profile}): {Headline(search)}").AppendLine();
                Table(md, ["Run", "Rate (events/s)", "Sustained", "Max lag (records)", "Lag trend (records/s)", "Finals behind (s)", "L1 p99 (ms)", "Verdict"],
                    search.Steps.Select(s => ("step", s)).Concat(search.Confirmations.Select(s => ("confirmation", s))).Select(x => new[]
                    {
                        x.Item1, Rate(x.s.Rate), x.s.Sustained ? "yes" : "no",
                        x.s.LagSeen ? Count(x.s.MaxConsumerLag) : "not seen", x.s.LagSeen ? Signed(x.s.LagTrendPerSecond) : "not seen",
                        (x.s.FinalsBehindMs / 1000).ToString("0.0", CultureInfo.InvariantCulture), Ms(x.s.L1P99Ms), x.s.Verdict,
                    }));
            }
        }

        if (results.Skipped.Count > 0)
        {
            md.AppendLine("## Skipped engines").AppendLine();
            foreach (var skipped in results.Skipped)
                md.AppendLine(CultureInfo.InvariantCulture, $"- **{skipped.Engine}**: {skipped.Reason}");
            md.AppendLine();
        }

        md.AppendLine("## Plots").AppendLine();
        if (results.Searches.Count > 0 || results.Runs.Count > 0)
            md.AppendLine(CultureInfo.InvariantCulture, $"![Throughput]({Plots.Throughput})").AppendLine()
                .AppendLine(CultureInfo.InvariantCulture, $"![CPU per million events]({Plots.CpuCost})").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"![L1 latency CDF]({Plots.L1Cdf})").AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"![L2 latency CDF]({Plots.L2Cdf})").AppendLine();
        for (var i = 0; i < results.Runs.Count; i++)
            md.AppendLine(CultureInfo.InvariantCulture, $"![L1 over time, {Label(results.Runs[i].Report)}]({Plots.L1OverTime(runIds[i])})").AppendLine();

        md.AppendLine("## How to read this").AppendLine()
            .AppendLine("**L1**, processing latency = a result row's `computed_at` − the Kafka timestamp of the newest event the row counts; " +
                        "for final rows it includes the wait for the watermark to pass the window's end. " +
                        "**L2**, sink latency = the result's Kafka timestamp − `computed_at` (with CreateTime timestamps, as on the embedded broker, " +
                        "it ends at the engine's produce call; `runs.csv` gives the timestamp type). " +
                        "Percentiles cover the rows published while the load ran, not the end-of-input drain, and leave out the warm-up: " +
                        "the rows whose newest event reached Kafka in the load's first seconds (see the settings; at least its first window), " +
                        "which `runs.csv` counts as `warmup_rows`. " +
                        "A run is **sustained** when the engine's consumer lag stayed bounded over it (the backlog did not keep growing): " +
                        "the sustainable-throughput criterion of Karimov et al., *Benchmarking Distributed Stream Data Processing Systems*, ICDE 2018. " +
                        "Latencies measured at an unsustained rate mostly measure queueing. " +
                        "**Late** counts the events the engine routed to the late topic (behind the watermark), **bad** the malformed events and events of unknown ads (dead-lettered), " +
                        "and the **oracle** recomputes every window with DuckDB from the events topic and compares it with the engine's final rows.")
            .AppendLine();

        md.AppendLine("## Machine").AppendLine();
        var m = results.Machine;
        md.AppendLine(CultureInfo.InvariantCulture, $"- OS: {m.Os}")
            .AppendLine(CultureInfo.InvariantCulture, $"- CPU: {m.Cpu} ({m.Cores} logical cores)")
            .AppendLine(CultureInfo.InvariantCulture, $"- Memory: {m.MemoryGiB:0.#} GiB")
            .AppendLine(CultureInfo.InvariantCulture, $"- Runtime: {m.Runtime}")
            .AppendLine();

        md.AppendLine("## Settings").AppendLine();
        foreach (var (name, value) in results.Settings)
            md.AppendLine(CultureInfo.InvariantCulture, $"- {name}: {value}");
        if (results.Settings.Count == 0) md.AppendLine("(none recorded)");
        md.AppendLine();

        md.AppendLine("## Files").AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"- `{ReportWriter.Json}`: everything above as JSON (snake_case); the `latencies` and `load` lists of each run are left empty there, the samples are in `{ReportWriter.SamplesFolder}/`.")
            .AppendLine(CultureInfo.InvariantCulture, $"- `{ReportWriter.RunsCsv}`: one row per run with the main numbers.")
            .AppendLine(CultureInfo.InvariantCulture, $"- `{ReportWriter.SamplesFolder}/<run>-latency.csv`: one line per measured result row (seconds since the load started, L1 ms, L2 ms).")
            .AppendLine(CultureInfo.InvariantCulture, $"- `{ReportWriter.SamplesFolder}/<run>-load.csv`: every half second, the offered and consumed rate (events/s) and the consumer lag (records).")
            .AppendLine(CultureInfo.InvariantCulture, $"- `*.png`: the plots above (at most {Count(Plots.MaxPoints)} points per series are drawn, evenly spread; the CSVs hold every sample).");
        if (results.Runs.Count > 0)
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Run ids: {string.Join(", ", runIds.Select(id => $"`{id}`"))}.");
        return md.ToString();
    }

    private static string Headline(ThroughputSearch search) =>
        search.SustainableRate > 0
            ? search.LowerBound
                ? $"sustained every rate tried and the confirmation at {Rate(search.SustainableRate)} events/s: its limit is higher"
                : $"sustainable up to {Rate(search.SustainableRate)} events/s (confirmed)"
            : search.SearchRate > 0
                ? $"the steps sustained {Rate(search.SearchRate)} events/s, but no longer run confirmed it: no sustainable rate is reported"
                : "no rate tried was sustainable";

    /// <summary>The verdict, and how the oracle read the events (live, after the load).</summary>
    private static string Oracle(EngineRunReport r) =>
        (r.Oracle.Verdict == OracleVerdict.Mismatch ? $"{r.Oracle.VerdictText} ({Count(r.Oracle.Differences)} differences)" : r.Oracle.VerdictText)
        + (r.OracleRead == "none" ? "" : $", read {r.OracleRead}");

    private static void Table(StringBuilder md, IReadOnlyList<string> header, IEnumerable<string[]> rows)
    {
        static string Cell(string text) => text.Replace("|", "\\|").ReplaceLineEndings(" ");
        // Columns whose every cell is a number (or a dash for none) are right-aligned so magnitudes line up.
        static bool Numeric(string text) => text is "–" or "none" || double.TryParse(text, NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out _);
        var table = rows.ToList();
        md.Append("| ").AppendJoin(" | ", header.Select(Cell)).AppendLine(" |")
            .Append('|').AppendJoin('|', header.Select((_, c) => table.Count > 0 && table.All(row => Numeric(row[c])) ? "---:" : "---")).AppendLine("|");
        foreach (var row in table)
            md.Append("| ").AppendJoin(" | ", row.Select(Cell)).AppendLine(" |");
        md.AppendLine();
    }
}
