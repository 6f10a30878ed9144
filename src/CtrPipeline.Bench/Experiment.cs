using System.Diagnostics;
using Analyzer.Worker;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Microsoft.Extensions.Logging;
using NativeEngine.Worker;
using Producer.Worker;

namespace CtrPipeline.Bench;

/// <summary>
/// Runs one engine end to end in this process with the same components the AppHost starts as services:
/// an embedded broker, the analyzer, the engine and the open-loop producer. Then it lets the engine catch up,
/// takes the latency snapshot, drains the engine (end of input) and checks its rows against the oracle.
/// </summary>
public sealed class Experiment(ExperimentSettings settings, string engine, CampaignCatalog catalog, ILoggerFactory logs, IRunProgress progress)
{
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(500);

    public async Task<EngineRunReport> RunAsync(CancellationToken cancel)
    {
        var pipeline = settings.Pipeline;
        var topics = pipeline.Topics.All.Select(t => (t, pipeline.Partitions));
        using var cluster = EmbeddedKafkaCluster.Start(settings.Brokers, topics);
        var bootstrap = cluster.BootstrapServers;

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var analyzer = new ResultAnalyzer(new AnalyzerOptions(), pipeline, bootstrap, logs.CreateLogger<ResultAnalyzer>());
        var runner = new NativeEngineRunner(new EngineOptions { Id = engine }, pipeline, catalog, bootstrap, logs.CreateLogger<NativeEngineRunner>());
        var producer = new EventProducer(settings.Producer, pipeline, catalog, bootstrap, logs.CreateLogger<EventProducer>());

        using var tap = settings.Verify ? new TopicTap(bootstrap, cluster.Topics) : null;
        var analyzing = analyzer.RunAsync(stop.Token);
        var processing = runner.RunAsync(stop.Token);
        // Load starts once both consumer groups have their partitions, so a group join is not measured as latency.
        progress.Phase(engine, "waiting for the engine and the analyzer to join their consumer groups");
        await Task.WhenAll(runner.Assigned, analyzer.Assigned).WaitAsync(TimeSpan.FromMinutes(1), cancel);
        var producing = producer.RunAsync(stop.Token);

        // Production phase: sample the backlog the engine has not consumed yet.
        var lag = new LagTracker(settings.Producer.Rate);
        var clock = Stopwatch.StartNew();
        while (!producing.IsCompleted)
        {
            await Task.WhenAny(producing, Task.Delay(SampleInterval, cancel));
            ThrowIfFaulted(processing, analyzing);
            var p = producer.Progress;
            var e = runner.Progress;
            lag.Add(clock.Elapsed.TotalSeconds, p.Delivered - e.Consumed);
            progress.Producing(engine, clock.Elapsed, settings.Duration, p.Sent, e.Consumed, p.Delivered - e.Consumed, analyzer.Snapshot().Sum(s => s.Results));
        }
        await producing;
        var produced = producer.Progress;

        // Catch-up phase: the engine consumes what is left and the analyzer sees every row published so far.
        // An engine that cannot catch up did not sustain the rate; its report says so instead of failing the run.
        var caughtUp = await WaitUntil(() => runner.Progress.Consumed >= produced.Delivered, processing, analyzing, cancel);
        OracleReport oracle;
        EngineLatency? latency;
        EngineProgress engineProgress;
        if (caughtUp)
        {
            await Task.Delay(pipeline.TriggerInterval + pipeline.WatermarkInterval, cancel);
            await Require(() => ResultsSeen(analyzer) >= runner.Progress.ResultsPublished, "the analyzer to read every result", processing, analyzing, cancel);
            latency = analyzer.Snapshot().SingleOrDefault(s => s.Engine == engine);

            // End of input: the engine closes its remaining windows so the oracle can compare complete output.
            progress.Phase(engine, "draining and verifying");
            await runner.DrainAsync(cancel);
            engineProgress = runner.Progress;
            await Require(() => ResultsSeen(analyzer) >= engineProgress.ResultsPublished, "the analyzer to read the drained results", processing, analyzing, cancel);
            oracle = tap is null
                ? OracleReport.Skipped
                : Oracle.Verify(await tap.CompleteAsync(CatchUpTimeout), tap.Lost, pipeline, catalog, engine);
        }
        else
        {
            engineProgress = runner.Progress;
            var reason = $"the engine had consumed {engineProgress.Consumed:N0} of {produced.Delivered:N0} events {CatchUpTimeout.TotalSeconds:0} s after the load ended: not sustained, rows not verified";
            progress.Phase(engine, reason);
            latency = analyzer.Snapshot().SingleOrDefault(s => s.Engine == engine);
            oracle = OracleReport.Skipped with { Examples = [reason] };
        }
        var allResults = ResultsSeen(analyzer);

        await stop.CancelAsync();
        await IgnoreCancellation(processing);
        await IgnoreCancellation(analyzing);

        return new EngineRunReport(
            Engine: engine,
            Profile: settings.Producer.Profile,
            Rate: settings.Producer.Rate,
            DurationSeconds: settings.Duration.TotalSeconds,
            Seed: settings.Producer.Seed,
            Mode: "embedded",
            Broker: $"embedded librdkafka mock cluster (in memory), {settings.Brokers} broker(s)",
            MachineCores: Environment.ProcessorCount,
            WindowSize: Durations.Format(pipeline.WindowSize),
            WatermarkDelay: Durations.Format(pipeline.WatermarkDelay),
            Partitions: pipeline.Partitions,
            Events: produced.Delivered,
            Malformed: produced.Malformed,
            AchievedRate: produced.Delivered / settings.Duration.TotalSeconds,
            MaxScheduleLagMs: produced.MaxScheduleLagMs,
            Results: allResults,
            MeasuredResults: latency?.Results ?? 0,
            L1: ToPercentiles(latency?.L1),
            L2: ToPercentiles(latency?.L2),
            L2Received: ToPercentiles(latency?.L2Received),
            KafkaTimestampType: latency?.TimestampType.ToString() ?? "none",
            Late: engineProgress.Late,
            Bad: engineProgress.Bad,
            MaxConsumerLag: lag.Max,
            EndConsumerLag: lag.Last,
            LagTrendPerSecond: lag.TrendPerSecond,
            Sustained: caughtUp && lag.Bounded,
            Oracle: oracle);

        long ResultsSeen(ResultAnalyzer a) => a.Snapshot().Where(s => s.Engine == engine).Sum(s => s.Results);
    }

    private static Percentiles ToPercentiles(LatencyPercentiles? p) =>
        p is null ? new Percentiles(0, 0, 0, 0, 0, 0) : new Percentiles(p.Count, p.P50, p.P90, p.P99, p.P999, p.Max);

    /// <summary>Polls the condition until it holds (true) or the catch-up timeout passes (false).</summary>
    private static async Task<bool> WaitUntil(Func<bool> condition, Task processing, Task analyzing, CancellationToken cancel)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            ThrowIfFaulted(processing, analyzing);
            if (deadline.Elapsed > CatchUpTimeout) return false;
            await Task.Delay(50, cancel);
        }
        return true;
    }

    private static async Task Require(Func<bool> condition, string what, Task processing, Task analyzing, CancellationToken cancel)
    {
        if (!await WaitUntil(condition, processing, analyzing, cancel))
            throw new TimeoutException($"Gave up waiting for {what} after {CatchUpTimeout.TotalSeconds:0} s.");
    }

    private static void ThrowIfFaulted(params Task[] tasks)
    {
        foreach (var t in tasks)
            if (t.IsFaulted) t.GetAwaiter().GetResult();
    }

    private static async Task IgnoreCancellation(Task task)
    {
        try { await task; }
        catch (OperationCanceledException) { }
    }
}
