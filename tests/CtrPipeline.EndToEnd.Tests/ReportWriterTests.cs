using System.Text.Json;
using CtrPipeline.Bench;
using CtrPipeline.Bench.Measurement;
using CtrPipeline.Bench.Reporting;
using CtrPipeline.Contracts;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>The report folder from synthetic but plausible results: two engines, a throughput search, a skipped engine.</summary>
public sealed class ReportWriterTests : IDisposable
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private readonly string _folder = Directory.CreateTempSubdirectory("ctr-report-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Writes_every_file_with_the_numbers_it_was_given()
    {
        var results = Results(
            Run("native-continuous", "mmpp", 20_000, l1P99: 1_234.4, rows: 5_000, seed: 1, cost: true),
            Run("sql-sqlite", "poisson", 5_000, l1P99: 8_765.4, rows: 2_000, seed: 2));

        var written = ReportWriter.Write(results, _folder);

        string[] expected =
        [
            "report.md", "results.json", "runs.csv", "l1-cdf.png", "l2-cdf.png", "throughput.png", "cpu-cost.png",
            "l1-over-time-native-continuous-mmpp-20000.png", "l1-over-time-sql-sqlite-poisson-5000.png",
            "samples/native-continuous-mmpp-20000-latency.csv", "samples/native-continuous-mmpp-20000-load.csv",
            "samples/sql-sqlite-poisson-5000-latency.csv", "samples/sql-sqlite-poisson-5000-load.csv",
        ];
        Assert.Equal(expected.Select(Full).Order(), written.Select(Path.GetFullPath).Order());
        Assert.All(written, path => Assert.True(File.Exists(path), path));
        foreach (var png in written.Where(p => p.EndsWith(".png", StringComparison.Ordinal)))
        {
            var bytes = File.ReadAllBytes(png);
            Assert.Equal(PngSignature, bytes.Take(PngSignature.Length));
            Assert.True(bytes.Length > 10_000, $"{png} is only {bytes.Length} bytes");
        }

        var report = File.ReadAllText(Full("report.md"));
        var rows = report.Split("## Cost")[0].Split('\n').Where(l => l.StartsWith("| native-continuous |", StringComparison.Ordinal) || l.StartsWith("| sql-sqlite |", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Contains("| 20,000 |", rows[0]);
        Assert.Contains("| 1,234 |", rows[0]);       // L1 p99, ms
        Assert.Contains("| 45,000 |", rows[0]);      // the search's sustainable rate for native-continuous on mmpp
        Assert.Contains("| 8,765 |", rows[1]);
        Assert.EndsWith("| inprocess | embedded | CreateTime |", rows[1].TrimEnd()); // where the engine ran, which Kafka, the timestamps behind L2
        Assert.Contains("- embedded: embedded librdkafka mock cluster (in memory), 1 broker(s)", report);
        Assert.Contains("| not searched |", rows[1]);
        Assert.Contains("sustainable up to 45,000 events/s (confirmed)", report);
        Assert.Contains("| step | 60,000 | no | 1,500,000 | +40,000 |", report); // the failed search step
        Assert.Contains("| confirmation | 45,000 | yes | 35,000 | +90 |", report);
        Assert.Contains("| step | 20,000 | yes | not seen | not seen | 11.6 |", report); // an engine run as a service: judged from its results
        Assert.Contains("**flink**: needs containers mode (a Flink cluster)", report);
        Assert.Contains("![L1 latency CDF](l1-cdf.png)", report);
        Assert.Contains("(l1-over-time-sql-sqlite-poisson-5000.png)", report);
        Assert.Contains("AMD Test CPU", report);
        Assert.Contains("- window: 10s", report);

        var csv = File.ReadAllLines(Full("runs.csv"));
        Assert.Equal(3, csv.Length);
        Assert.StartsWith("run_id,engine,profile,", csv[0]);
        Assert.StartsWith("native-continuous-mmpp-20000,native-continuous,mmpp,", csv[1]);
        Assert.Contains(",1234.4,", csv[1]);
        Assert.Contains(",31,17,12,true,", csv[1]); // warm-up rows, late, bad, sustained
        Assert.EndsWith(",CreateTime,services,0,25,300.5,0.5,5,0.1", csv[1]); // timestamps behind L2, host, finals' trail, cost
        Assert.EndsWith(",CreateTime,inprocess,0,,,,,", csv[2]); // no cost measured
        Assert.Contains("| native-continuous | mmpp | 20,000 | services | 25 | 0.5 | 301 | 5 | 0.1 |", report);
        Assert.Contains("| sql-sqlite | poisson | 5,000 | inprocess | none | none | none | none | none |", report);
        Assert.Contains("![CPU per million events](cpu-cost.png)", report);
        Assert.Equal(5_001, File.ReadAllLines(Full("samples/native-continuous-mmpp-20000-latency.csv")).Length);

        var json = JsonSerializer.Deserialize(File.ReadAllText(Full("results.json")), BenchJson.Default.BenchmarkResults)!;
        Assert.Equal(results.Runs.Count, json.Runs.Count);
        Assert.Equal(results.Runs.Select(r => r.Report.ToJson()), json.Runs.Select(r => r.Report.ToJson()));
        Assert.Equal(3, Assert.Single(json.Searches).Steps.Count);
        Assert.Equal(45_000, json.Searches[0].SustainableRate);
        Assert.Equal(45_000, Assert.Single(json.Searches[0].Confirmations).Rate);
        Assert.Equal("flink", Assert.Single(json.Skipped).Engine);
        Assert.Equal(results.Settings, json.Settings);
        Assert.Equal(results.Machine, json.Machine);
        Assert.All(json.Runs, r => Assert.Empty(r.Latencies)); // the samples are in the CSVs
    }

    [Fact]
    public void A_rate_the_longer_confirmation_refuted_is_not_reported_as_sustainable()
    {
        SearchStep Step(double rate, bool ok) => new(rate, ok, 0, 0, 0, ok ? "sustained" : "lag not bounded");
        var refuted = new ThroughputSearch("native-continuous", "poisson", 0, [Step(160_000, true), Step(320_000, true)], [Step(320_000, false), Step(160_000, false)]);
        var lower = new ThroughputSearch("native-continuous", "poisson", 160_000, [Step(160_000, true), Step(320_000, true)], [Step(320_000, false), Step(160_000, true)]);
        var top = lower with { SustainableRate = 320_000, Confirmations = [Step(320_000, true)] };

        Assert.Equal(("none", false, 320_000.0), (refuted.SustainableText, refuted.LowerBound, refuted.SearchRate));
        Assert.Equal(("160,000", false), (lower.SustainableText, lower.LowerBound)); // every step passed, but not the top rate's confirmation
        Assert.Equal(("≥ 320,000", true), (top.SustainableText, top.LowerBound));

        var report = MarkdownReport.Render(Results() with { Searches = [refuted] }, []);
        Assert.Contains("the steps sustained 320,000 events/s, but no longer run confirmed it: no sustainable rate is reported", report);
    }

    [Fact]
    public void Runs_without_samples_and_without_searches_still_get_every_file()
    {
        var empty = Run("native-microbatch", "poisson", 1_000, l1P99: 0, rows: 0, seed: 3) with { Load = [] };
        var results = Results(empty, empty) with { Searches = [], Skipped = [] };

        var written = ReportWriter.Write(results, _folder);

        // The same engine, profile and rate twice gets two distinct run ids.
        Assert.Contains(Full("l1-over-time-native-microbatch-poisson-1000.png"), written);
        Assert.Contains(Full("l1-over-time-native-microbatch-poisson-1000-2.png"), written);
        Assert.All(written.Where(p => p.EndsWith(".png", StringComparison.Ordinal)),
            png => Assert.Equal(PngSignature, File.ReadAllBytes(png).Take(PngSignature.Length)));
        Assert.Single(File.ReadAllLines(Full("samples/native-microbatch-poisson-1000-latency.csv"))); // the header
        var report = File.ReadAllText(Full("report.md"));
        Assert.Contains("| – | – | – |", report);
        Assert.DoesNotContain("## Sustainable throughput", report);
    }

    [Fact]
    public void Run_ids_are_filesystem_safe()
    {
        var ids = ReportWriter.RunIds([Run("Sql Postgres/16", "mmpp", 2_500.5, 10, 0, 4)]);

        Assert.Equal(["sql-postgres-16-mmpp-2500.5"], ids);
    }

    private string Full(string relative) => Path.GetFullPath(Path.Combine(_folder, relative));

    private static BenchmarkResults Results(params RunData[] runs) => new(
        "mmpp-vs-poisson", new DateTimeOffset(2025, 5, 1, 10, 0, 0, TimeSpan.Zero), new DateTimeOffset(2025, 5, 1, 10, 12, 0, TimeSpan.Zero),
        new MachineInfo("Linux", "AMD Test CPU", 8, 31.2, ".NET 10.0.0"),
        [new("window", "10s"), new("watermark delay", "2s"), new("partitions", "4")],
        runs,
        [new ThroughputSearch("native-continuous", "mmpp", 45_000,
        [
            new SearchStep(20_000, true, 4_000, 2.5, 900, "sustained") { LagSeen = false, FinalsBehindMs = 11_600 },
            new SearchStep(45_000, true, 30_000, 120, 1_400, "sustained"),
            new SearchStep(60_000, false, 1_500_000, 40_000, 25_000, "consumer lag grows"),
        ],
        [new SearchStep(45_000, true, 35_000, 90, 1_500, "sustained")])],
        [new SkippedEngine("flink", "needs containers mode (a Flink cluster)")]);

    [Fact]
    public void The_result_line_says_whether_the_rate_was_sustained_and_what_the_trail_was()
    {
        var report = Run(Engines.NativeContinuous, "poisson", 20_000, 2_000, 300, 7).Report with { FinalsBehindMs = 14_250.5, EngineRows = 340, OracleRead = "live" };

        var line = report.ResultLine();

        Assert.StartsWith("RESULT engine=native-continuous profile=poisson rate=20000 events=1200000 results=340 engine_rows=340 measured_rows=300 measurement=complete l1_p50_ms=200 l1_p99_ms=2000 l2_p99_ms=6.2 ", line);
        Assert.Contains(" schedule_lag_max_ms=1.5 finals_behind_ms=14250.5 sustained=true oracle=match oracle_read=live", line);
        Assert.Contains(" sustained=false ", (report with { Sustained = false }).ResultLine());
    }

    [Fact]
    public void The_result_line_says_when_the_analyzer_read_fewer_rows_than_the_engine_published_or_none_past_the_warmup()
    {
        var report = Run(Engines.NativeContinuous, "poisson", 20_000, 2_000, 300, 7).Report with { EngineRows = 340 };

        Assert.Contains(" results=340 engine_rows=340 measured_rows=300 measurement=complete ", report.ResultLine());
        Assert.Contains(" results=340 engine_rows=512 measured_rows=300 measurement=short ", (report with { EngineRows = 512 }).ResultLine());
        Assert.Contains(" measured_rows=0 measurement=no-rows-past-warmup ", (report with { MeasuredResults = 0 }).ResultLine());
    }

    [Fact]
    public void A_figure_that_was_not_measured_reads_none_never_zero()
    {
        var none = new Percentiles(0, 0, 0, 0, 0, 0);
        var report = Run(EngineTarget.SqlSqlite, "poisson", 120_000, 2_000, 300, 7).Report with
        {
            MeasuredResults = 0,
            L1 = none,
            L2 = none,
            FinalsBehindMs = double.NaN,
            Sustained = false,
        };

        var line = report.ResultLine();

        Assert.Contains(" measured_rows=0 measurement=no-rows-past-warmup l1_p50_ms=none l1_p99_ms=none l2_p99_ms=none ", line);
        Assert.Contains(" finals_behind_ms=none sustained=false ", line);
        Assert.DoesNotContain("_ms=0 ", line);
        // In process, the engine's cost is not told apart from the benchmark's; off Linux nothing is measured.
        Assert.EndsWith(" cpu_s_per_million_events=none peak_rss_mb=none cores=none apparatus_cpu_s_per_million_events=none apparatus_cores=none", line);
    }

    [Fact]
    public void The_result_line_gives_the_engines_and_the_apparatuss_cost_per_million_events()
    {
        var report = Run(Engines.NativeContinuous, "poisson", 20_000, 2_000, 300, 7).Report; // 1,200,000 events

        var measured = report.WithCost(new Cost(CpuSeconds: 30, WallSeconds: 60, PeakRssBytes: 300L * 1024 * 1024 + 512 * 1024), new Cost(6, 60, 1));
        var engineOnly = report.WithCost(new Cost(30, 60, 1024 * 1024), apparatus: null);

        Assert.EndsWith(" cpu_s_per_million_events=25 peak_rss_mb=300.5 cores=0.5 apparatus_cpu_s_per_million_events=5 apparatus_cores=0.1", measured.ResultLine());
        Assert.Contains(" peak_rss_mb=1 cores=0.5 apparatus_cpu_s_per_million_events=none ", engineOnly.ResultLine());
        Assert.Contains(" cpu_s_per_million_events=none ", (measured with { Events = 0 }).WithCost(new Cost(30, 60, 1), null).ResultLine());
    }

    /// <summary>A 60 s run: log-normal L1 around a tenth of <paramref name="l1P99"/>, L2 of a few ms, the offered rate every half second.</summary>
    private static RunData Run(string engine, string profile, double rate, double l1P99, int rows, int seed, bool cost = false)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var latencies = Enumerable.Range(0, rows)
            .Select(i => new LatencySample(60.0 * i / rows, l1P99 / 10 * Math.Exp(Normal()), 3 * Math.Exp(0.3 * Normal())))
            .ToList();
        var load = Enumerable.Range(1, 120)
            .Select(i => new LoadSample(i / 2.0, rate * (1 + 0.05 * Normal()), rate * (1 + 0.05 * Normal()), random.Next(0, 5_000)))
            .ToList();
        var l1 = new Percentiles(rows, l1P99 / 10, l1P99 / 3, l1P99, l1P99 * 1.6, l1P99 * 2);
        var l2 = new Percentiles(rows, 3, 4.5, 6.2, 9.9, 15);
        var report = new EngineRunReport(engine, profile, rate, 60, 42, "embedded", "embedded librdkafka mock cluster (in memory), 1 broker(s)", 8, "10s", "2s", 4,
            (long)(rate * 60), 12, rate * 0.998, 1.5, rows + 40, rows, WarmupSeconds: 10, WarmupResults: 31, l1, l2, l2, "CreateTime",
            Late: 17, Bad: 12, MaxConsumerLag: 4_999, EndConsumerLag: 0, LagTrendPerSecond: 0.4, Sustained: true,
            new OracleReport(OracleVerdict.Match, (long)(rate * 60), 720, 720, 0, []));
        // As a service: its 1,200,000 events cost the engine 30 s of CPU in 60 s, the apparatus 6 s.
        if (cost) report = report.WithCost(new Cost(30, 60, 300L * 1024 * 1024 + 512 * 1024), new Cost(6, 60, 1)) with { Host = "services" };
        return new RunData(report, latencies, load);
    }
}
