using System.Diagnostics;
using System.Globalization;
using CtrPipeline.Analyzer;
using CtrPipeline.Bench.Reporting;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.Streaming;
using Microsoft.Extensions.Logging;
using CtrPipeline.Producer;
using CtrPipeline.Bench.Hosts;
using CtrPipeline.Bench.Load;
using CtrPipeline.Bench.Measurement;
using CtrPipeline.Bench.Verification;

namespace CtrPipeline.Bench;

/// <summary>
/// Runs one engine target end to end: the engine where the settings' host puts it (<see cref="IEngineSession"/>: in
/// this process, or as a service of the AppHost), on the run's own topics, with the analyzer and the oracle's tap in
/// this process and the open-loop load where the settings put it (<see cref="ILoad"/>: producer processes, or here).
/// Once the engine is ready the load runs; then the engine catches up, the latency snapshot is taken, the input ends
/// (a drain, or a trailer of events) and its rows are checked against the oracle.
/// Every row measured before the end of input and the load every half second are kept for the report's plots.
/// </summary>
public sealed class Experiment(ExperimentSettings settings, EngineTarget target, CampaignCatalog catalog, ILoggerFactory logs, IRunProgress progress, string workFolder)
{
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>A file-name-safe id of this run: target, profile, rate, duration.</summary>
    public string RunId => string.Create(CultureInfo.InvariantCulture,
        $"{target.Name}-{settings.Producer.Profile}-{settings.Producer.Rate:0}-{Durations.Format(settings.Duration)}");

    public async Task<RunData> RunAsync(CancellationToken cancel)
    {
        try
        {
            return await RunOnceAsync(cancel);
        }
        finally
        {
            if (target.Finish is not null) await target.Finish(RunId, workFolder);
        }
    }

    private async Task<RunData> RunOnceAsync(CancellationToken cancel)
    {
        var engine = target.Engine;
        var name = target.Name;
        await using var session = await EngineHosts.StartAsync(settings, target, new RunContext(catalog, logs, RunId, workFolder, progress), cancel);
        var kafka = session.Kafka;
        var pipeline = kafka.Pipeline;
        var bootstrap = kafka.Kafka;

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var latencies = new List<LatencySample>();
        var measuring = true;
        long loadStartMs = 0;
        FinalsTracker? finals = null;
        var analyzer = new ResultAnalyzer(new AnalyzerOptions { Warmup = settings.Warmup, GroupId = kafka.Scoped("ctr-analyzer") }, pipeline, bootstrap, logs.CreateLogger<ResultAnalyzer>())
        {
            RowMeasured = (row, latency) =>
            {
                if (row.Engine == engine && row.Final) Volatile.Read(ref finals)?.Final(row.WindowEnd);
                if (!Volatile.Read(ref measuring) || row.Engine != engine || latency.Warmup) return;
                lock (latencies)
                    latencies.Add(new LatencySample((row.ComputedAt - loadStartMs) / 1000.0, latency.L1, latency.L2 ?? double.NaN));
            },
        };
        var producerOptions = kafka.Embedded ? settings.Producer.WithLinger(EmbeddedBroker.ProducerLinger) : settings.Producer;

        // The engine's output is small and read live here; the events, the heavy read, as the cluster allows (EventsRead).
        using var outputTap = settings.Verify ? new TopicTap(bootstrap, kafka.OutputTopics) : null;
        using var eventsRead = settings.Verify ? await EventsRecordings.StartAsync(settings.OracleRead, kafka, settings, workFolder) : null;
        if (eventsRead is not null)
            progress.Phase(name, $"the oracle reads the events {(eventsRead.Read == EventsRead.Live ? "live, in a tap process of its own" : "after the load")}: {eventsRead.Reason}");
        var analyzing = analyzer.RunAsync(stop.Token);
        // However the run ends, the analyzer and the load stop before the engine and its Kafka go.
        await using var stopping = new Deferred(async () =>
        {
            await stop.CancelAsync();
            try { await analyzing; }
            catch (Exception) { } // a fault of its own is reported by the run's path that saw it
        });
        // What the run costs from the load's start to the end of its catch-up: the engine, and the apparatus (this
        // process, with the AppHost's model, the tap's and the load's own processes). In process neither: this
        // process's CPU is the engine's too.
        List<int> apparatusProcesses = [.. eventsRead?.ProcessIds ?? []];
        using var apparatus = session.Cost is null ? null : ProcessCost.OfApparatus(apparatusProcesses);
        var cost = new CostMeter(session.Cost, apparatus);
        var processing = session.Processing;
        // Load starts once both consumer groups have their partitions, so a group join is not measured as latency.
        progress.Phase(name, "waiting for the engine and the analyzer to join their consumer groups");
        // A cluster's first job (containers mode) may take minutes to be scheduled; a consumer joins in seconds.
        var readyTimeout = settings.Mode == "containers" ? TimeSpan.FromMinutes(5) : TimeSpan.FromMinutes(1);
        try
        {
            await Task.WhenAll(session.Ready, analyzer.Assigned).WaitAsync(readyTimeout, cancel);
        }
        catch (TimeoutException)
        {
            throw new WorkerFailedException($"{(session.Ready.IsCompleted ? "the analyzer" : name)} was not ready within {readyTimeout.TotalSeconds:0} s");
        }
        await using var producer = await ILoad.StartAsync(settings, producerOptions, kafka, catalog, logs, workFolder, RunId, cancel);
        apparatusProcesses.AddRange(producer.ProcessIds); // read by index, so it may grow while the sampler polls
        cost.Start();
        loadStartMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        analyzer.LoadStarted(loadStartMs);
        Volatile.Write(ref finals, new FinalsTracker(pipeline, loadStartMs));
        var producing = producer.RunAsync(stop.Token);

        // Production phase: sample the backlog the engine has not consumed yet, and the rates for the plots.
        var lag = new LagTracker(settings.Producer.Rate);
        var load = new List<LoadSample>();
        var clock = Stopwatch.StartNew();
        var (lastSeconds, lastConsumed) = (0.0, 0L);
        while (!producing.IsCompleted)
        {
            await Task.WhenAny(producing, Task.Delay(SampleInterval, cancel));
            ThrowIfFaulted(processing, analyzing);
            var p = producer.Progress;
            var e = session.Progress;
            var seconds = clock.Elapsed.TotalSeconds;
            if (session.KnowsConsumed) lag.Add(seconds, p.Delivered - e.Consumed);
            finals.Sample(seconds, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            // Offered: the arrival process's current intensity (an MMPP burst shows as a step), not the sent count,
            // which the producer publishes only once a second.
            if (seconds > lastSeconds)
                load.Add(new LoadSample(seconds, p.OfferedRate, (e.Consumed - lastConsumed) / (seconds - lastSeconds), Math.Max(0, p.Delivered - e.Consumed)));
            (lastSeconds, lastConsumed) = (seconds, e.Consumed);
            // Sent is published once a second, Delivered as acknowledgements arrive: show whichever is further.
            progress.Producing(name, clock.Elapsed, settings.Duration, Math.Max(p.Sent, p.Delivered), e.Consumed, p.Delivered - e.Consumed, analyzer.Snapshot().Sum(s => s.Results));
        }
        await producing;
        var loadEndMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var produced = producer.Progress;

        // Catch-up phase: the engine consumes what is left and the analyzer sees every row published so far.
        // An engine that cannot catch up did not sustain the rate; its report says so instead of failing the run.
        var giveUp = settings.GiveUpWhenUnbounded && !(lag.Bounded && finals.KeepsUp);
        var caughtUp = !giveUp && (!session.KnowsConsumed
            || await WaitUntil(() => session.Progress.Consumed >= produced.Delivered, settings.CatchUpTimeout, processing, analyzing, cancel));
        OracleReport oracle;
        EngineLatency? latency;
        EngineProgress engineProgress;
        if (caughtUp)
        {
            await Task.Delay(pipeline.TriggerInterval + pipeline.WatermarkInterval, cancel);
            await AnalyzerReadsAll(() => session.Progress.ResultsPublished);
            latency = analyzer.Snapshot().SingleOrDefault(s => s.Engine == engine);
            Volatile.Write(ref measuring, false);
            cost.Stop();

            // End of input: the engine closes its remaining windows so the oracle can compare complete output.
            progress.Phase(name, settings.Verify ? "draining and verifying" : "draining");
            var end = await session.EndInputAsync(loadStartMs, loadEndMs, settings.CatchUpTimeout, cancel);
            engineProgress = session.Progress;
            await AnalyzerReadsAll(() => engineProgress.ResultsPublished);
            if (!end.Complete)
            {
                caughtUp = false;
                var reason = $"not every window of the load was final {settings.CatchUpTimeout.TotalSeconds:0} s after the end of input: not sustained, rows not verified";
                progress.Phase(name, reason);
                oracle = OracleReport.Skipped with { Examples = [reason] };
            }
            else if (outputTap is null || eventsRead is null)
                oracle = OracleReport.Skipped;
            else
            {
                var output = await outputTap.CompleteAsync(settings.CatchUpTimeout);
                var recorded = await eventsRead.CompleteAsync(settings.CatchUpTimeout, cancel);
                var tapped = output with { Events = recorded.Events, EventRecords = recorded.EventRecords, Lost = output.Lost + recorded.Lost };
                oracle = Oracle.Verify(tapped, pipeline, catalog, engine, end.Windows);
            }
        }
        else
        {
            engineProgress = session.Progress;
            var reason = giveUp
                ? $"the backlog was still growing ({lag.TrendPerSecond:N0} events/s) when the load ended: not sustained, rows not verified"
                : $"the engine had consumed {engineProgress.Consumed:N0} of {produced.Delivered:N0} events {settings.CatchUpTimeout.TotalSeconds:0} s after the load ended: not sustained, rows not verified";
            progress.Phase(name, reason);
            latency = analyzer.Snapshot().SingleOrDefault(s => s.Engine == engine);
            Volatile.Write(ref measuring, false);
            cost.Stop();
            oracle = OracleReport.Skipped with { Examples = [reason] };
        }
        var allResults = ResultsSeen(analyzer);
        engineProgress = session.Progress;

        await stop.CancelAsync();
        await IgnoreCancellation(analyzing);

        var report = new EngineRunReport(
            Engine: name,
            Profile: settings.Producer.Profile,
            Rate: settings.Producer.Rate,
            DurationSeconds: settings.Duration.TotalSeconds,
            Seed: settings.Producer.Seed,
            Mode: settings.Kafka.Mode,
            Broker: kafka.Broker,
            MachineCores: Environment.ProcessorCount,
            WindowSize: Durations.Format(pipeline.WindowSize),
            WatermarkDelay: Durations.Format(pipeline.WatermarkDelay),
            Partitions: pipeline.Partitions,
            Events: produced.Delivered,
            Malformed: produced.Malformed,
            AchievedRate: produced.Delivered / settings.Duration.TotalSeconds,
            MaxScheduleLagMs: produced.MaxScheduleLagMs,
            Results: allResults,
            MeasuredResults: (latency?.Results ?? 0) - (latency?.WarmupResults ?? 0),
            WarmupSeconds: settings.Warmup.TotalSeconds,
            WarmupResults: latency?.WarmupResults ?? 0,
            L1: ToPercentiles(latency?.L1),
            L2: ToPercentiles(latency?.L2),
            L2Received: ToPercentiles(latency?.L2Received),
            KafkaTimestampType: latency?.TimestampType.ToString() ?? "none",
            Late: engineProgress.Late,
            Bad: engineProgress.Bad,
            MaxConsumerLag: lag.Max,
            EndConsumerLag: lag.Last,
            LagTrendPerSecond: lag.TrendPerSecond,
            Sustained: caughtUp && lag.Bounded && finals.KeepsUp,
            Oracle: oracle,
            Database: session.Database)
        {
            Host = EngineHosts.Name(settings.Host),
            EngineRows = engineProgress.ResultsPublished,
            OracleRead = eventsRead is null ? "none" : EventsReads.Name(eventsRead.Read),
            FinalsBehindMs = finals.MaxBehindMs,
            FinalsAllowedMs = finals.AllowedMs,
        }.WithCost(cost.Engine, cost.Apparatus);
        lock (latencies) return new RunData(report, [.. latencies], load);

        long ResultsSeen(ResultAnalyzer a) => a.Snapshot().Where(s => s.Engine == engine).Sum(s => s.Results);

        // A row the analyzer has not read is not measured; the report counts both, and says when they differ.
        Task<bool> AnalyzerReadsAll(Func<long> published) =>
            WaitUntil(() => ResultsSeen(analyzer) >= published(), settings.CatchUpTimeout, processing, analyzing, cancel);
    }

    private static Percentiles ToPercentiles(LatencyPercentiles? p) =>
        p is null ? new Percentiles(0, 0, 0, 0, 0, 0) : new Percentiles(p.Count, p.P50, p.P90, p.P99, p.P999, p.Max);

    /// <summary>Polls the condition until it holds (true) or <paramref name="timeout"/> passes (false).</summary>
    private static async Task<bool> WaitUntil(Func<bool> condition, TimeSpan timeout, Task processing, Task analyzing, CancellationToken cancel)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            ThrowIfFaulted(processing, analyzing);
            if (deadline.Elapsed > timeout) return false;
            await Task.Delay(50, cancel);
        }
        return true;
    }

    private static void ThrowIfFaulted(params Task[] tasks)
    {
        foreach (var t in tasks)
            if (t.IsFaulted) t.GetAwaiter().GetResult();
    }

    private sealed class Deferred(Func<Task> action) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await action();
    }

    private static async Task IgnoreCancellation(Task task)
    {
        try { await task; }
        catch (OperationCanceledException) { }
    }
}
