using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.Streaming;
using Microsoft.Extensions.Logging;
using CtrPipeline.Producer;

namespace CtrPipeline.Bench.Catchup;

/// <summary>What one catch-up run measured for one engine; <see cref="Line"/> is its CATCHUP line.</summary>
public sealed record CatchupResult(string Engine, long Events, double EngineSeconds, double EnginePerSecond, double BareConsumerPerSecond,
    double ParsePerSecond, int ExpectedRows, int WrongRows)
{
    public double Ratio => BareConsumerPerSecond > 0 ? EnginePerSecond / BareConsumerPerSecond : 0;

    public string Line => string.Create(CultureInfo.InvariantCulture,
        $"CATCHUP engine={Engine} events={Events} engine_per_s={EnginePerSecond:0} bare_consumer_per_s={BareConsumerPerSecond:0} ratio={Ratio:0.00} parse_per_s={ParsePerSecond:0} wrong_rows={WrongRows}");
}

/// <summary>
/// A catch-up measurement with no producer competing (issue 16): fresh topics (a fresh embedded broker, or fresh
/// topics on the --kafka cluster) are loaded with
/// <see cref="CatchupSettings.Events"/> events first; then, on the same topic, a bare Confluent.Kafka consumer that
/// only counts bytes, a bare parse of the same records, and the engine from the moment it holds its partitions until
/// the results topic holds a final row for every (window, campaign) of the load. The engine's rows are checked
/// against the counts the loader recorded.
/// </summary>
public sealed class CatchupRun(CatchupSettings settings, EngineTarget target, CampaignCatalog catalog, ILoggerFactory logs, IRunProgress progress, string workFolder)
{
    /// <summary>The event time the load covers per event: as if it had been produced at this rate, ending now.</summary>
    public const double EventTimeRate = 10_000;

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    public async Task<CatchupResult> RunAsync(CancellationToken cancel)
    {
        if (target.Start is null) throw new InvalidOperationException($"{target.Name} cannot run here: {target.SkipReason}");
        var name = target.Name;
        var runId = $"catchup-{name}";
        await using var kafka = await settings.Kafka.OpenAsync(runId, settings.Pipeline, cancel);
        var pipeline = kafka.Pipeline;
        var bootstrap = kafka.Kafka;

        progress.Phase(name, $"loading {settings.Events:N0} events into {pipeline.Partitions} partitions");
        var expected = Load(kafka, cancel);
        if (Dropped(bootstrap, pipeline) is var dropped and > 0)
            throw new ConfigurationException(kafka.Embedded
                ? $"--events {settings.Events:N0} does not fit the embedded broker's retention (5 MiB per partition; it dropped {dropped:N0} records): " +
                  $"use fewer events or more --partitions (now {pipeline.Partitions})."
                : $"the cluster's retention dropped {dropped:N0} of the {settings.Events:N0} records loaded: use fewer --events or a cluster that keeps them.");
        var total = settings.Events + pipeline.Partitions; // the trailer: one event per partition

        progress.Phase(name, "bare consumer: reading every record, counting bytes");
        var (values, consumerSeconds) = BareConsume(bootstrap, pipeline.Topics.Events, total, cancel);
        progress.Phase(name, "bare parse of the same records");
        var parseSeconds = BareParse(values);

        progress.Phase(name, "engine: from holding its partitions until every window of the load has a final row");
        Directory.CreateDirectory(workFolder);
        try
        {
            var runner = target.Start(new TargetContext(bootstrap, pipeline, catalog, runId, workFolder, logs, kafka.Scope));
            var (engineSeconds, wrong) = await TimeEngineAsync(runner, bootstrap, pipeline.Topics.Results, expected, cancel);
            return new CatchupResult(name, settings.Events, engineSeconds, settings.Events / engineSeconds, total / consumerSeconds,
                values.Count / parseSeconds, expected.Count, wrong);
        }
        finally
        {
            if (target.Finish is not null) await target.Finish(runId, workFolder);
        }
    }

    /// <summary>
    /// Produces the load as fast as the producer goes, then a trailer of one event per partition a window and the
    /// watermark delay later, so every window of the load can close. Returns the recount of the load per (window, campaign).
    /// </summary>
    private Dictionary<(long Window, int Campaign), (long Views, long Clicks)> Load(RunTopics kafka, CancellationToken cancel)
    {
        var pipeline = kafka.Pipeline;
        var windowMs = (long)pipeline.WindowSize.TotalMilliseconds;
        var generator = new EventGenerator(new ProducerOptions { Seed = settings.Seed, MalformedFraction = 0 }, catalog, new Random(settings.Seed));
        var expected = new Dictionary<(long, int), (long, long)>();
        var end = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var start = end - (long)(settings.Events / EventTimeRate * 1000);
        var last = long.MinValue;
        using var producer = new ProducerBuilder<byte[], byte[]>(KafkaClients.Producer(kafka.Kafka, "catchup-loader", kafka.Embedded ? EmbeddedBroker.ProducerLinger : null)).Build();
        for (long i = 0; i < settings.Events; i++)
        {
            var record = generator.Next(start + (long)(i / EventTimeRate * 1000));
            var e = WireFormat.TryParseEvent(record.Value, out var parsed, out _) ? parsed : throw new InvalidOperationException("the generator wrote a malformed event");
            var key = (CtrEngine.WindowStart(e.EventTime, windowMs), catalog.TryGetCampaign(e.AdId, out var campaign) ? campaign : throw new InvalidOperationException($"ad {e.AdId} is not in the catalog"));
            var (views, clicks) = expected.GetValueOrDefault(key);
            expected[key] = e.EventType == EventType.Click ? (views, clicks + 1) : (views + 1, clicks);
            last = Math.Max(last, e.EventTime);
            Produce(producer, pipeline.Topics.Events, null, record.Key, record.Value, cancel);
            if (i > 0 && i % 250_000 == 0) progress.Phase(target.Name, $"loaded {i:N0} of {settings.Events:N0} events");
        }
        var trailerTime = last + windowMs + (long)pipeline.WatermarkDelay.TotalMilliseconds + 1_000;
        var ad = catalog.Ads[0].AdId;
        for (var p = 0; p < pipeline.Partitions; p++)
            Produce(producer, pipeline.Topics.Events, p, null, WireFormat.Serialize(new AdEvent(-p - 1, EventType.View, ad, 1, trailerTime)), cancel);
        producer.Flush(cancel);
        return expected;
    }

    private static void Produce(IProducer<byte[], byte[]> producer, string topic, int? partition, byte[]? key, byte[] value, CancellationToken cancel)
    {
        var message = new Message<byte[], byte[]> { Key = key!, Value = value };
        while (true)
        {
            try
            {
                if (partition is { } p) producer.Produce(new TopicPartition(topic, p), message);
                else producer.Produce(topic, message);
                return;
            }
            catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                cancel.ThrowIfCancellationRequested();
                producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }

    /// <summary>Records of the events topic the broker no longer holds (retention): the sum of the partitions' start offsets.</summary>
    private static long Dropped(KafkaConnection bootstrap, PipelineSettings pipeline)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(KafkaClients.Consumer(bootstrap, "catchup-retention", "catchup-retention")).Build();
        return Enumerable.Range(0, pipeline.Partitions)
            .Sum(p => consumer.QueryWatermarkOffsets(new TopicPartition(pipeline.Topics.Events, p), TimeSpan.FromSeconds(15)).Low.Value);
    }

    /// <summary>Every record of the events topic through a consumer with the engines' settings that does nothing but count bytes.</summary>
    private (List<byte[]> Values, double Seconds) BareConsume(KafkaConnection bootstrap, string topic, long total, CancellationToken cancel)
    {
        var config = KafkaClients.Consumer(bootstrap, $"catchup-bare-{Guid.NewGuid():N}", "catchup-bare");
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        consumer.Assign(Enumerable.Range(0, settings.Pipeline.Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var values = new List<byte[]>((int)Math.Min(total, int.MaxValue));
        long bytes = 0;
        var clock = Stopwatch.StartNew();
        while (values.Count < total)
        {
            cancel.ThrowIfCancellationRequested();
            if (clock.Elapsed > settings.Timeout) throw new TimeoutException($"The bare consumer read {values.Count:N0} of {total:N0} records in {settings.Timeout}.");
            if (consumer.Consume(Poll) is not { } r) continue;
            bytes += r.Message.Value.Length;
            values.Add(r.Message.Value);
        }
        var seconds = clock.Elapsed.TotalSeconds;
        GC.KeepAlive(bytes);
        return (values, seconds);
    }

    /// <summary>The engines' parser alone over the same records (best of three passes, after one warm-up).</summary>
    private static double BareParse(List<byte[]> values)
    {
        var best = double.MaxValue;
        for (var pass = 0; pass < 4; pass++)
        {
            var clock = Stopwatch.StartNew();
            var parsed = 0;
            foreach (var v in values)
                if (WireFormat.TryParseEvent(v, out _, out _)) parsed++;
            if (parsed != values.Count) throw new InvalidOperationException($"{values.Count - parsed} records of the load do not parse");
            if (pass > 0) best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }

    /// <summary>Seconds from the engine holding its partitions until every expected (window, campaign) has a final row; and how many first final rows differ.</summary>
    private async Task<(double Seconds, int Wrong)> TimeEngineAsync(IEngineRunner runner, KafkaConnection bootstrap, string resultsTopic, Dictionary<(long Window, int Campaign), (long Views, long Clicks)> expected, CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var processing = runner.RunAsync(stop.Token);
        try
        {
            await runner.Assigned.WaitAsync(TimeSpan.FromMinutes(1), cancel);
            var clock = Stopwatch.StartNew();
            var firstFinals = new Dictionary<(long, int), (long Views, long Clicks)>();
            var config = KafkaClients.Consumer(bootstrap, $"catchup-results-{Guid.NewGuid():N}", "catchup-results");
            using var results = new ConsumerBuilder<byte[], byte[]>(config).Build();
            results.Assign(Enumerable.Range(0, settings.Pipeline.Partitions).Select(p => new TopicPartitionOffset(resultsTopic, p, Offset.Beginning)));
            var nextProgress = TimeSpan.Zero;
            while (expected.Keys.Any(k => !firstFinals.ContainsKey(k)))
            {
                if (processing.IsFaulted) await processing;
                if (clock.Elapsed > settings.Timeout)
                    throw new TimeoutException($"{target.Name} had a final row for {firstFinals.Count} of {expected.Count} (window, campaign) pairs after {settings.Timeout}.");
                if (clock.Elapsed >= nextProgress)
                {
                    progress.Phase(target.Name, string.Create(CultureInfo.InvariantCulture,
                        $"{clock.Elapsed.TotalSeconds:0} s: consumed {runner.Progress.Consumed:N0} records, final rows for {firstFinals.Count} of {expected.Count} (window, campaign) pairs"));
                    nextProgress = clock.Elapsed + TimeSpan.FromSeconds(2);
                }
                if (results.Consume(TimeSpan.FromMilliseconds(20)) is not { } r) continue;
                var row = WireFormat.ParseResult(r.Message.Value);
                if (row.Final && row.Engine == target.Engine) firstFinals.TryAdd((row.WindowStart, row.CampaignId), (row.Views, row.Clicks));
            }
            var seconds = clock.Elapsed.TotalSeconds;
            var wrong = expected.Count(e => firstFinals[e.Key] != e.Value);
            return (seconds, wrong);
        }
        finally
        {
            await stop.CancelAsync();
            try { await processing; }
            catch (OperationCanceledException) { }
        }
    }
}

/// <summary>A catch-up run's settings: how many events, the pipeline, the seed, and how long any phase may take.</summary>
public sealed record CatchupSettings(PipelineSettings Pipeline, long Events, int Seed)
{
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Where each engine's load goes: a fresh embedded broker (the default) or fresh topics on a Kafka cluster (--kafka).</summary>
    public RunKafka Kafka { get; init; } = RunKafka.Embedded(1);

    public CatchupSettings Validate()
    {
        Pipeline.Validate();
        ConfigurationException.Require(Events is >= 1_000 and <= 50_000_000, $"--events must be between 1000 and 50000000 (got {Events}).");
        return this;
    }
}
