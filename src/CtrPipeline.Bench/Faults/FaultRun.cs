using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using CtrPipeline.Bench.Measurement;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Microsoft.Extensions.Logging;
using CtrPipeline.Producer;

namespace CtrPipeline.Bench.Faults;

/// <summary>
/// One fault run: an embedded broker in its own process, the engine as its own worker process, the open-loop
/// producer and a tap of every topic in this process. The faults happen on schedule while the load runs; then a
/// trailer of valid events moves every partition's watermark past the load's last window, the results settle, and
/// <see cref="FaultOracle"/> judges every window the load touched. Each process's output is kept in the run folder.
/// </summary>
public sealed class FaultRun(FaultSettings settings, EngineTarget target, IReadOnlyList<FaultScenario> scenarios, CampaignCatalog catalog,
    string catalogPath, string folder, string? postgres, IRunProgress progress, ILoggerFactory logs)
{
    private readonly Stopwatch _clock = new();
    private readonly List<string> _notes = [];
    private readonly List<ChildProcess> _processes = [];
    /// <summary>Every engine instance's pid, the killed, restarted and refused ones too: their cost is the engine's.</summary>
    private readonly List<int> _enginePids = [];
    private ChildProcess? _engine;
    private bool _killedOnPurpose;
    private int _kills;
    private long _nextInjectedId = 9_000_000_000_000;
    /// <summary>Every hostile record injected, by its value ("null" for a tombstone): its kind.</summary>
    private readonly Dictionary<string, HostileRecord> _hostile = [];
    private readonly List<HostileRecord> _injected = [];

    private string Name => $"{target.Name}/{FaultScenarios.Name(scenarios)}";

    public async Task<FaultResult> RunAsync(CancellationToken cancel)
    {
        Directory.CreateDirectory(folder);
        var pipeline = settings.Pipeline;
        progress.Phase(Name, "starting the embedded broker in its own process");
        using var broker = await BrokerProcess.StartAsync(pipeline, settings.Brokers, Path.Combine(folder, "embedded-kafka.log"), cancel);
        var worker = EngineWorker.For(target, pipeline, broker.BootstrapServers, catalogPath, folder, postgres, settings.Guarantee);
        await worker.ResetDatabaseAsync(cancel);
        try
        {
            return await RunAsync(broker, worker, cancel);
        }
        finally
        {
            foreach (var p in _processes) p.Dispose();
            if (worker.Postgres is not null) await worker.ResetDatabaseAsync(CancellationToken.None); // drop the run's schema
        }
    }

    private async Task<FaultResult> RunAsync(BrokerProcess broker, EngineWorker worker, CancellationToken cancel)
    {
        var pipeline = settings.Pipeline;
        var bootstrap = broker.Kafka;
        using var tap = new TopicTap(bootstrap, pipeline.Topics.All.ToDictionary(t => t, _ => pipeline.Partitions));
        using var results = new EngineOutputWatch(bootstrap, pipeline, worker.Engine);
        using var injector = new ProducerBuilder<byte[], byte[]>(KafkaClients.Producer(bootstrap, "fault-injector")).SetLogHandler(Quiet).SetErrorHandler(Quiet).Build();
        using var committed = new ConsumerBuilder<Ignore, Ignore>(KafkaClients.Consumer(bootstrap, worker.GroupId, "fault-observer")).SetLogHandler(Quiet).SetErrorHandler(Quiet).Build();

        var backlog = scenarios.Contains(FaultScenario.Backlog);
        if (!backlog)
        {
            progress.Phase(Name, $"starting {worker.Project} ({target.Name}) and waiting for it to join consumer group {worker.GroupId}");
            _engine = Start(worker, "engine");
            await WaitForAssignmentAsync(_engine, TimeSpan.FromSeconds(60), cancel);
        }

        var producerOptions = new ProducerOptions
        {
            Profile = TrafficProfiles.Poisson, Rate = settings.Rate, Duration = settings.Duration, Seed = settings.Seed,
            MalformedFraction = 0, TracedEventsPerSecond = 0, Linger = EmbeddedBroker.ProducerLinger,
        }.Validate();
        var producer = new EventProducer(producerOptions, pipeline, catalog, bootstrap, logs.CreateLogger<EventProducer>());
        // The load starts on a window boundary, so a fault at a given time hits the same point of a window in every run.
        var windowMs = (long)pipeline.WindowSize.TotalMilliseconds;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Task.Delay(TimeSpan.FromMilliseconds((now / windowMs + 1) * windowMs - now), cancel);
        var loadStartMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using var engineCost = ProcessCost.Of(_enginePids);
        var cost = new CostMeter(engineCost, apparatus: null);
        cost.Start();
        _clock.Start();
        var producing = producer.RunAsync(cancel);
        SecondInstanceOutcome? second = null;
        var faults = Task.WhenAll(scenarios.Select(s => s switch
        {
            FaultScenario.Kill => KillAndRestartAsync(worker, cancel),
            FaultScenario.BrokerOutage => OutageAsync(broker, worker, cancel),
            FaultScenario.SecondInstance => SecondInstance(),
            FaultScenario.Hostile => InjectHostileAsync(injector, cancel),
            FaultScenario.Backlog => StartOnBacklogAsync(worker, producer, cancel),
            _ => Task.CompletedTask,
        }));

        async Task SecondInstance() => second = await SecondInstanceAsync(worker, cancel);

        var all = Task.WhenAll(producing, faults);
        while (!all.IsCompleted)
        {
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(1), cancel));
            WatchEngine();
            var p = producer.Progress;
            var consumed = Committed(committed);
            progress.Producing(Name, _clock.Elapsed, settings.Duration, Math.Max(p.Sent, p.Delivered), consumed, Math.Max(0, p.Delivered - consumed), results.Finals);
        }
        await all;
        var loadEndMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var produced = producer.Progress;
        if (produced.DeliveryErrors > 0) _notes.Add($"the producer could not deliver about {produced.DeliveryErrors:N0} events (counted {EventProducer.ProbeEvery(producerOptions.Rate, producerOptions.Linger, pipeline.Partitions)} to a delivery report; they are not in the topic, so not expected either)");

        // The trailer: a few valid events per partition for a window and the watermark delay, so every partition's
        // watermark passes the end of the window the load ended in; those windows are then final.
        var lastWindow = loadEndMs / windowMs * windowMs;
        progress.Phase(Name, $"load over: trailer of valid events for {EndOfInput.TrailerLength(pipeline).TotalSeconds:0} s so every window the load touched can close");
        _nextInjectedId = await EndOfInput.SendTrailerAsync(injector, pipeline, catalog, _nextInjectedId, WatchEngine, cancel);

        progress.Phase(Name, "draining: waiting until every judged window has a final row and the results settle");
        if (!await EndOfInput.SettleAsync(results, lastWindow, settings.SettleTime, settings.DrainTimeout, cancel))
            _notes.Add($"the results had not settled {settings.DrainTimeout.TotalSeconds:0} s after the load ended");
        WatchEngine();
        NoteRetentionDrops(committed);
        cost.Stop();
        foreach (var p in _processes) p.Kill();

        progress.Phase(Name, "verifying against the DuckDB recount");
        var records = await tap.CompleteAsync(TimeSpan.FromMinutes(2));
        var firstWindow = (loadStartMs - (long)producerOptions.LongestEventTimeLag.TotalMilliseconds) / windowMs * windowMs;
        var counts = FaultOracle.Verify(records, pipeline, catalog, worker.Engine, firstWindow, lastWindow + 1);
        foreach (var p in _processes.Where(p => p.ErrorLines.Count > 0))
            _notes.Add($"{p.Name} error output: {string.Join(" | ", p.ErrorLines.Take(3))}");
        _notes.Add($"process logs: {folder}");
        return new FaultResult(target.Name, FaultScenarios.Name(scenarios), _kills, counts, worker.ExactlyOnce, _notes, second,
            HostileOutcomes(records[pipeline.Topics.DeadLetters], worker.Engine))
        {
            CpuSecondsPerMillionEvents = cost.Engine?.CpuSecondsPerMillion(produced.Delivered),
            PeakRssMb = cost.Engine?.PeakRssMb,
        };
    }

    /// <summary>Per kind of hostile record: how many went in, and the reasons of the engine's dead-letter records of that kind.</summary>
    private List<HostileOutcome> HostileOutcomes(List<ConsumeResult<string, byte[]>> deadLetters, string engine)
    {
        var reasons = _injected.Select(h => h.Kind).Distinct().ToDictionary(k => k, _ => new List<string>());
        foreach (var r in deadLetters)
            if (FaultOracle.Header(r, "engine") == engine && _hostile.TryGetValue(ValueKey(r.Message.Value), out var h))
                reasons[h.Kind].Add(FaultOracle.Header(r, "error") ?? "");
        return _injected.GroupBy(h => h.Kind)
            .Select(g => new HostileOutcome(g.Key, g.First().Counted, g.Count(), reasons[g.Key]))
            .ToList();
    }

    private static string ValueKey(byte[]? value) => value is null ? "null" : Convert.ToBase64String(value);

    /// <summary>The harness's own clients stay silent: a broker outage is the point of a run, not news.</summary>
    private static void Quiet<TClient, TMessage>(TClient client, TMessage message) { }

    private ChildProcess Start(EngineWorker worker, string instance)
    {
        var process = worker.Start(instance, Path.Combine(folder, $"{instance}.log"));
        _processes.Add(process);
        _enginePids.Add(process.Id);
        return process;
    }

    /// <summary>Notes once if the engine ended without being killed (a crash or a refusal is a finding, not restarted).</summary>
    private void WatchEngine()
    {
        if (_engine is { HasExited: true } e && !_killedOnPurpose)
        {
            _notes.Add(string.Create(CultureInfo.InvariantCulture, $"the engine ended by itself with exit code {e.ExitCode} at {_clock.Elapsed.TotalSeconds:0} s: {string.Join(" | ", e.ErrorLines.TakeLast(3))}"));
            _killedOnPurpose = true; // noted once
        }
    }

    private async Task At(TimeSpan time, CancellationToken cancel)
    {
        var wait = time - _clock.Elapsed;
        if (wait > TimeSpan.Zero) await Task.Delay(wait, cancel);
    }

    /// <summary>The engine starts once the load has built a backlog; it must wait for every partition's share of it.</summary>
    private async Task StartOnBacklogAsync(EngineWorker worker, EventProducer producer, CancellationToken cancel)
    {
        await At(settings.BacklogFor, cancel);
        _engine = Start(worker, "engine");
        var backlog = producer.Progress.Delivered;
        progress.Phase(Name, string.Create(CultureInfo.InvariantCulture, $"engine started at {_clock.Elapsed.TotalSeconds:0.0} s on a backlog of {backlog:N0} events"));
        _notes.Add(string.Create(CultureInfo.InvariantCulture, $"the engine started {settings.BacklogFor.TotalSeconds:0} s into the load, on a backlog of {backlog:N0} events in {settings.Pipeline.Partitions} partitions"));
    }

    private async Task KillAndRestartAsync(EngineWorker worker, CancellationToken cancel)
    {
        await At(settings.KillAt, cancel);
        _killedOnPurpose = true;
        var killedAt = _clock.Elapsed;
        _engine!.Kill();
        _kills++;
        progress.Phase(Name, string.Create(CultureInfo.InvariantCulture, $"SIGKILL of the engine at {killedAt.TotalSeconds:0.0} s (gone at {_clock.Elapsed.TotalSeconds:0.0} s); restart in {settings.RestartAfter.TotalSeconds:0} s"));
        await Task.Delay(settings.RestartAfter, cancel);
        _engine = Start(worker, "engine-restarted");
        _killedOnPurpose = false;
        progress.Phase(Name, string.Create(CultureInfo.InvariantCulture, $"engine restarted at {_clock.Elapsed.TotalSeconds:0.0} s"));
    }

    /// <summary>
    /// Every broker down, then up; then a forced rebalance: a probe consumer joins the engine's group subscribed to the
    /// dead-letter topic (which the engine does not read), stays <see cref="FaultSettings.ProbeHold"/>, and leaves. The
    /// group rebalances twice while the engine keeps every events partition, so an engine that stays correct only when
    /// its assignment never changes shows it, and a single-instance engine has no reason to refuse.
    /// </summary>
    private async Task OutageAsync(BrokerProcess broker, EngineWorker worker, CancellationToken cancel)
    {
        await At(settings.OutageAt, cancel);
        await broker.DownAsync(cancel);
        progress.Phase(Name, string.Create(CultureInfo.InvariantCulture, $"broker down at {_clock.Elapsed.TotalSeconds:0.0} s for {settings.OutageLength.TotalSeconds:0} s"));
        await Task.Delay(settings.OutageLength, cancel);
        await broker.UpAsync(cancel);
        progress.Phase(Name, string.Create(CultureInfo.InvariantCulture, $"broker up at {_clock.Elapsed.TotalSeconds:0.0} s; rebalance probe joins group {worker.GroupId}"));
        var note = await Task.Run(() => RebalanceProbe(broker.Kafka, worker.GroupId, cancel), cancel);
        _notes.Add(note);
    }

    private string RebalanceProbe(KafkaConnection bootstrap, string groupId, CancellationToken cancel)
    {
        var joinedAt = (TimeSpan?)null;
        var config = KafkaClients.Consumer(bootstrap, groupId, "fault-rebalance-probe");
        using var probe = new ConsumerBuilder<Ignore, Ignore>(config).SetLogHandler(Quiet).SetErrorHandler(Quiet).Build();
        probe.Subscribe(settings.Pipeline.Topics.DeadLetters);
        var start = _clock.Elapsed;
        while (!cancel.IsCancellationRequested && _clock.Elapsed - start < TimeSpan.FromSeconds(60))
        {
            probe.Consume(TimeSpan.FromMilliseconds(100));
            if (joinedAt is null && probe.Assignment.Count > 0) joinedAt = _clock.Elapsed;
            if (joinedAt is { } j && _clock.Elapsed - j >= settings.ProbeHold) break;
        }
        probe.Close();
        return joinedAt is { } at
            ? string.Create(CultureInfo.InvariantCulture, $"rebalance forced: a probe joined group {groupId} (subscribed to {settings.Pipeline.Topics.DeadLetters}) at {at.TotalSeconds:0.0} s and left at {_clock.Elapsed.TotalSeconds:0.0} s")
            : string.Create(CultureInfo.InvariantCulture, $"rebalance probe could not join group {groupId} within 60 s");
    }

    private async Task<SecondInstanceOutcome> SecondInstanceAsync(EngineWorker worker, CancellationToken cancel)
    {
        await At(settings.SecondInstanceAt, cancel);
        progress.Phase(Name, string.Create(CultureInfo.InvariantCulture, $"second instance started at {_clock.Elapsed.TotalSeconds:0.0} s in group {worker.GroupId}"));
        var second = Start(worker, "engine-second-instance");
        var started = Stopwatch.StartNew();
        var exited = await second.WaitForExitAsync(settings.SecondInstanceWait);
        var outcome = new SecondInstanceOutcome(exited, second.ExitCode, started.Elapsed, second.ErrorLines, _engine is { HasExited: false });
        progress.Phase(Name, outcome.ToString());
        return outcome;
    }

    private async Task InjectHostileAsync(IProducer<byte[], byte[]> injector, CancellationToken cancel)
    {
        await At(settings.HostileAt, cancel);
        var sent = 0;
        for (var p = 0; p < settings.Pipeline.Partitions; p++)
        {
            var records = HostileRecords.For(catalog, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), _nextInjectedId);
            _nextInjectedId += records.Count;
            foreach (var r in records)
            {
                injector.Produce(new TopicPartition(settings.Pipeline.Topics.Events, p), new Message<byte[], byte[]> { Value = r.Value! });
                _hostile[ValueKey(r.Value)] = r;
                _injected.Add(r);
                sent++;
            }
        }
        await Task.Run(() => injector.Flush(TimeSpan.FromSeconds(30)), cancel);
        var kinds = HostileRecords.For(catalog, 0, 0);
        progress.Phase(Name, string.Create(CultureInfo.InvariantCulture, $"{sent} hostile records injected at {_clock.Elapsed.TotalSeconds:0.0} s ({kinds.Count} kinds in each of {settings.Pipeline.Partitions} partitions)"));
        _notes.Add($"hostile records: {sent} ({string.Join(", ", kinds.Select(k => k.Kind))} in every partition; {kinds.Count(k => !k.Counted)} per partition belong in the dead-letter topic, {kinds.Count(k => k.Counted)} must be counted)");
    }

    private static async Task WaitForAssignmentAsync(ChildProcess engine, TimeSpan timeout, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout && !engine.HasExited && !engine.Saw(" assigned "))
            await Task.Delay(100, cancel);
        if (engine.HasExited)
            throw new WorkerFailedException($"the engine ended at start with exit code {engine.ExitCode}: {string.Join(" | ", engine.ErrorLines.TakeLast(3))}");
    }

    private long _lastCommitted;

    /// <summary>Offsets the engine's group has committed on the events topic (a lower bound of what it consumed).</summary>
    /// <summary>
    /// The embedded broker keeps 5 MiB per partition: a backlog larger than that (a long outage at a high rate) loses
    /// its oldest records before a stalled engine reads them, which no engine can survive. The tap read them live, so
    /// the recount has them; the run then says so instead of leaving the missing counts unexplained.
    /// </summary>
    private void NoteRetentionDrops(IConsumer<Ignore, Ignore> observer)
    {
        try
        {
            var dropped = Enumerable.Range(0, settings.Pipeline.Partitions)
                .Sum(p => observer.QueryWatermarkOffsets(new TopicPartition(settings.Pipeline.Topics.Events, p), TimeSpan.FromSeconds(5)).Low.Value);
            if (dropped > 0)
                _notes.Add($"the embedded broker's retention (5 MiB per partition) dropped the oldest {dropped:N0} events during the run (the tap had read them). Harmless if the engine had read them too; if it had not (it was down or stalled), it lost them for good and their windows come out short: then use more --partitions or a lower --rate");
        }
        catch (KafkaException e)
        {
            _notes.Add($"could not check the embedded broker's retention: {e.Error.Reason}");
        }
    }

    private long Committed(IConsumer<Ignore, Ignore> observer)
    {
        try
        {
            var partitions = Enumerable.Range(0, settings.Pipeline.Partitions).Select(p => new TopicPartition(settings.Pipeline.Topics.Events, p));
            _lastCommitted = observer.Committed(partitions, TimeSpan.FromMilliseconds(500)).Sum(o => Math.Max(0, o.Offset.Value));
        }
        catch (KafkaException)
        {
            // the broker is down: keep the last figure
        }
        return _lastCommitted;
    }
}
