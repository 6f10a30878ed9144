using System.Globalization;
using CtrPipeline.Bench.Reporting;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Bench;

/// <summary>What a benchmark tells its watcher beyond one run's progress.</summary>
public interface IBenchmarkProgress : IRunProgress
{
    void Planned(int runs);

    void RunStarted(string runId);

    void RunFinished(RunData run, string kind);
}

/// <summary>
/// Runs a workload: every runnable target through the matrix (profiles x rates x durations), each run on a fresh broker
/// and database and verified against the oracle, then the sustainable-throughput search per target. Each run's report
/// is written to runs/ in the benchmark folder as soon as it ends, so an interrupted benchmark keeps what it measured.
/// </summary>
public sealed class Benchmark(Workload workload, IReadOnlyList<EngineTarget> targets, ExperimentSettings settings, string folder,
    CampaignCatalog catalog, ILoggerFactory logs, IBenchmarkProgress progress)
{
    /// <summary>A search step ends early once the backlog is clearly unbounded, and waits less for a catch-up.</summary>
    private static readonly TimeSpan SearchCatchUp = TimeSpan.FromSeconds(30);

    /// <summary>The runs' scratch files (SQLite databases), each deleted when its run ends.</summary>
    private readonly string _workFolder = Path.Combine(Path.GetTempPath(), $"ctr-benchmark-{Guid.NewGuid():N}");

    /// <summary>Which targets run on the settings' host and mode, and which are skipped, with why.</summary>
    public static (IReadOnlyList<EngineTarget> Runnable, IReadOnlyList<SkippedEngine> Skipped) Plan(IReadOnlyList<EngineTarget> targets, ExperimentSettings settings)
    {
        var reasons = targets.Select(t => (Target: t, Reason: t.SkipReasonOn(settings.Host, settings.Mode, settings.ServiceConnections))).ToList();
        return (reasons.Where(r => r.Reason is null).Select(r => r.Target).ToList(),
            reasons.Where(r => r.Reason is not null).Select(r => new SkippedEngine(r.Target.Name, r.Reason!)).ToList());
    }

    public async Task<BenchmarkResults> RunAsync(CancellationToken cancel)
    {
        var started = DateTimeOffset.UtcNow;
        var (runnable, skipped) = Plan(targets, settings);
        var matrix = (from t in runnable from p in workload.Profiles from r in workload.Rates from d in workload.Durations select (t, p, r, d)).ToList();
        progress.Planned(matrix.Count + (workload.Search is { } s ? runnable.Count * EstimatedSearchSteps(s) : 0));

        var runs = new List<RunData>();
        foreach (var (target, profile, rate, duration) in matrix)
            runs.Add(await RunAsync(target, settings.With(profile, rate, Durations.Parse(duration, "duration")), "matrix", cancel));

        var searches = new List<ThroughputSearch>();
        if (workload.Search is { } search)
            foreach (var target in runnable)
                searches.Add(await SearchAsync(target, search, cancel));

        var databases = runs.Where(r => r.Report.Database is not null).DistinctBy(r => r.Report.Engine)
            .Select(r => new KeyValuePair<string, string>($"database of {r.Report.Engine}", $"{r.Report.Database}, default durability settings"));
        return new BenchmarkResults(workload.Name, started, DateTimeOffset.UtcNow, MachineInfo.Current(), [.. Settings(), .. databases], runs, searches, skipped);
    }

    /// <summary>
    /// The highest rate with bounded consumer lag (Karimov et al., ICDE 2018): multiply the rate until a run is not
    /// sustained, then bisect between the last sustained and the first unsustained rate. The highest sustained rate is
    /// then confirmed by one longer run; if that fails, the next lower sustained rate gets one confirmation too, and a
    /// rate no confirmation passed is not reported as sustainable.
    /// </summary>
    private async Task<ThroughputSearch> SearchAsync(EngineTarget target, SearchSpec spec, CancellationToken cancel)
    {
        var duration = Durations.Parse(spec.Duration, "search duration");
        var steps = new List<SearchStep>();
        double sustained = 0, failed = double.NaN;

        async Task<bool> Try(double rate)
        {
            var step = await StepAsync(target, spec.Profile, rate, duration, "search", cancel);
            steps.Add(step);
            if (step.Sustained) sustained = Math.Max(sustained, rate);
            else failed = double.IsNaN(failed) ? rate : Math.Min(failed, rate);
            return step.Sustained;
        }

        var rate = spec.StartRate;
        while (await Try(rate) && rate < spec.MaxRate) rate = Math.Min(rate * spec.Factor, spec.MaxRate);
        for (var i = 0; i < spec.Bisections && !double.IsNaN(failed); i++)
        {
            var mid = Math.Round((sustained + failed) / 2 / 100) * 100;
            if (mid <= sustained || mid >= failed) break;
            await Try(mid);
        }

        var confirmations = new List<SearchStep>();
        var confirmDuration = Durations.Parse(spec.ConfirmDuration, "search confirm duration");
        foreach (var candidate in steps.Where(s => s.Sustained).Select(s => s.Rate).Distinct().OrderDescending().Take(MaxConfirmations))
        {
            var confirmation = await StepAsync(target, spec.Profile, candidate, confirmDuration, "confirm", cancel);
            confirmations.Add(confirmation);
            if (confirmation.Sustained) return new ThroughputSearch(target.Name, spec.Profile, candidate, steps, confirmations);
        }
        return new ThroughputSearch(target.Name, spec.Profile, 0, steps, confirmations);
    }

    /// <summary>How many sustained rates, from the highest down, a search tries to confirm.</summary>
    private const int MaxConfirmations = 2;

    /// <summary>One run of the search: sustained when the lag stayed bounded and the producer offered the rate.</summary>
    private async Task<SearchStep> StepAsync(EngineTarget target, string profile, double rate, TimeSpan duration, string kind, CancellationToken cancel)
    {
        var stepSettings = settings with { Verify = false, GiveUpWhenUnbounded = true, CatchUpTimeout = SearchCatchUp };
        var r = (await RunAsync(target, stepSettings.With(profile, rate, duration), kind, cancel)).Report;
        var offeredEnough = r.AchievedRate >= 0.95 * rate;
        var ok = r.Sustained && offeredEnough;
        var verdict = ok ? "sustained"
            : !offeredEnough ? string.Create(CultureInfo.InvariantCulture, $"the producer offered only {r.AchievedRate:N0}/s on this machine")
            : r.FinalsBehindMs > r.FinalsAllowedMs ? string.Create(CultureInfo.InvariantCulture, $"final rows fell {r.FinalsBehindMs / 1000:0.0} s behind the clock (allowed {r.FinalsAllowedMs / 1000:0.0} s)")
            : string.Create(CultureInfo.InvariantCulture, $"lag not bounded (trend {r.LagTrendPerSecond:N0}/s, end {r.EndConsumerLag:N0})");
        return new SearchStep(rate, ok, r.MaxConsumerLag, r.LagTrendPerSecond, r.L1.P99, verdict) { LagSeen = r.Host != "services", FinalsBehindMs = r.FinalsBehindMs };
    }

    private async Task<RunData> RunAsync(EngineTarget target, ExperimentSettings run, string kind, CancellationToken cancel)
    {
        var experiment = new Experiment(run, target, catalog, logs, progress, _workFolder);
        progress.RunStarted(experiment.RunId);
        var data = await experiment.RunAsync(cancel);
        var runsFolder = Path.Combine(folder, "runs", kind);
        Directory.CreateDirectory(runsFolder);
        await File.WriteAllTextAsync(Path.Combine(runsFolder, $"{experiment.RunId}.json"), data.Report.ToJson(), cancel);
        progress.RunFinished(data, kind);
        return data;
    }

    private static int EstimatedSearchSteps(SearchSpec s) =>
        (int)Math.Ceiling(Math.Log(s.MaxRate / s.StartRate) / Math.Log(s.Factor)) / 2 + 1 + s.Bisections + 1;

    private List<KeyValuePair<string, string>> Settings()
    {
        var p = settings.Pipeline;
        var producer = settings.Producer;
        return
        [
            new("host", settings.Host == Hosts.EngineHost.InProcess
                ? "inprocess: every engine in the benchmark's process"
                : $"services: every engine as a service of the AppHost's app model ({settings.Mode} mode), seen through Kafka only"),
            new("kafka", settings.Kafka.Mode == "cluster" ? "a Kafka cluster (--kafka), fresh topics per run"
                : settings.Host == Hosts.EngineHost.Services ? "the AppHost's, a fresh one per run"
                : "embedded: librdkafka mock broker in this process, a fresh one per run"),
            new("window", Durations.Format(p.WindowSize)),
            new("watermark delay", Durations.Format(p.WatermarkDelay)),
            new("micro-batch trigger / SQL aggregation interval", Durations.Format(p.TriggerInterval)),
            new("partitions", p.Partitions.ToString(CultureInfo.InvariantCulture)),
            new("campaigns x ads", $"{catalog.CampaignCount} campaigns, {catalog.Ads.Count} ads"),
            new("seed", producer.Seed.ToString(CultureInfo.InvariantCulture)),
            new("warm-up left out of the percentiles", $"the load's first {Durations.Format(settings.Warmup)}, and at least its first window"),
            new("out-of-order fraction", producer.OutOfOrderFraction.ToString(CultureInfo.InvariantCulture)),
            new("malformed fraction", producer.MalformedFraction.ToString(CultureInfo.InvariantCulture)),
            new("oracle", settings.Verify ? "every matrix run verified with DuckDB" : "off"),
            .. targets.Select(t => new KeyValuePair<string, string>($"engine {t.Name}", t.Description)),
        ];
    }
}
