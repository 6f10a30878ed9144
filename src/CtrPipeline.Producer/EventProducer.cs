using System.Diagnostics;
using System.Diagnostics.Metrics;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Producer;

/// <summary>
/// A consistent view of the producer's counters. Delivered and DeliveryErrors count in steps of
/// <see cref="EventProducer.ProbeEvery"/> records while the producer runs; once it has flushed, Delivered is every
/// record sent and not failed.
/// </summary>
public sealed record ProducerProgress(
    long Scheduled, long Sent, long Delivered, long DeliveryErrors, long Malformed,
    double ScheduleLagMs, double MaxScheduleLagMs, int State, double OfferedRate, TimeSpan Elapsed);

/// <summary>
/// The open-loop load generator. Each event's send time comes from the arrival process, never from the system under
/// test: sends are not held back by acknowledgements, and when the producer falls behind its schedule it sends as fast
/// as it can and reports how far behind it is (schedule lag), so a slow system shows up as latency instead of as a
/// quietly lower offered rate (coordinated omission). An event's event time is its scheduled time.
/// </summary>
public sealed class EventProducer(ProducerOptions options, PipelineSettings pipeline, CampaignCatalog catalog, KafkaConnection kafka, ILogger<EventProducer> logger)
{
    private static readonly Meter Meter = new(PipelineTelemetry.ProducerMeter);
    private static readonly Counter<long> SentCounter = Meter.CreateCounter<long>("ctr.producer.events.sent", "{event}", "Records handed to the Kafka client.");
    private static readonly Counter<long> ErrorCounter = Meter.CreateCounter<long>("ctr.producer.delivery_errors", "{event}", "Records the broker did not acknowledge.");
    private static readonly Histogram<double> LagHistogram = Meter.CreateHistogram<double>("ctr.producer.schedule_lag", "ms", "How late a record was sent relative to its scheduled time.");
    private static readonly Gauge<double> OfferedRateGauge = Meter.CreateGauge<double>("ctr.producer.offered_rate", "{event}/s", "Offered rate of the arrival process's current state.");

    private readonly Lock _gate = new();
    private ProducerProgress _progress = new(0, 0, 0, 0, 0, 0, 0, 0, 0, TimeSpan.Zero);
    private long _delivered;
    private long _errors;
    private volatile KafkaRefusedException? _refused;

    public ProducerProgress Progress
    {
        get { lock (_gate) return _progress with { Delivered = Interlocked.Read(ref _delivered), DeliveryErrors = Interlocked.Read(ref _errors) }; }
    }

    /// <summary>Sends until Duration has elapsed (or until cancelled), then waits for outstanding deliveries.</summary>
    public Task RunAsync(CancellationToken cancel) =>
        Task.Factory.StartNew(() => Run(cancel), cancel, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// On the client's thread: a refusal (authentication, TLS, permissions) ends the load, with one line, at the next
    /// send; anything else is ridden out.
    /// </summary>
    private void ReportError(Error error)
    {
        if (KafkaRefusedException.From(error, kafka) is { } refused) _refused ??= refused;
        else logger.LogWarning("Kafka at {Bootstrap}: {Reason}. The client keeps retrying.", kafka.BootstrapServers, error.Reason);
    }

    /// <summary>Records that share one delivery report at most: the probes per expected batch (see <see cref="ProbeEvery"/>).</summary>
    private const int ProbesPerBatch = 8;

    /// <summary>
    /// One record in N asks for its delivery report (a probe): Confluent.Kafka's per-record report, a handle and
    /// a callback per record, cost the load producer more CPU than making the records (docs/measurements.md). Kafka
    /// acknowledges or fails a whole batch, and N is chosen so that the batch a partition expects in one linger holds
    /// about eight probes; below a few thousand events/s every record is a probe. Each probe's report then counts for
    /// the N records it stands for (the oracle counts the records that reached the topic itself).
    /// </summary>
    public static int ProbeEvery(double rate, TimeSpan linger, int partitions) =>
        (int)Math.Clamp(rate * Math.Max(linger.TotalSeconds, 0.001) / partitions / ProbesPerBatch, 1, 1024);

    private void Run(CancellationToken cancel)
    {
        var (arrivals, generator) = InstanceLoad.Create(options, catalog, pipeline.Partitions);
        var profileTag = new KeyValuePair<string, object?>("profile", options.Profile);
        var rate = options.Rate / options.Instances;
        var probeEvery = ProbeEvery(rate, options.Linger, pipeline.Partitions);

        var reportedError = 0;
        Action<DeliveryReport<byte[], byte[]>> onDelivery = r =>
        {
            if (!r.Error.IsError)
            {
                Interlocked.Add(ref _delivered, probeEvery);
                return;
            }
            Interlocked.Add(ref _errors, probeEvery);
            ErrorCounter.Add(probeEvery, profileTag);
            if (Interlocked.Exchange(ref reportedError, 1) == 0)
                logger.LogError("Delivery to {Topic} failed: {Reason}", r.Topic, r.Error.Reason);
        };
        using var producer = new ProducerBuilder<byte[], byte[]>(KafkaClients.Producer(kafka, "producer", options.Linger))
            .SetErrorHandler((_, e) => ReportError(e))
            .SetLogHandler(KafkaClients.LogTo(logger))
            .Build();

        logger.LogInformation("Producing {Profile} traffic at {Rate:N0} events/s (instance {Instance} of {Instances}) to {Topic} on {Bootstrap} for {Duration}",
            options.Profile, rate, options.Instance, options.Instances, pipeline.Topics.Events, kafka, options.Duration?.ToString() ?? "ever");

        var startEpochMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        if (options.StartAtUnixMs is { } startAt && startAt > startEpochMs)
        {
            cancel.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(startAt - startEpochMs));
            startEpochMs = startAt;
        }
        var clock = Stopwatch.StartNew();
        var end = options.Duration?.TotalSeconds ?? double.PositiveInfinity;
        var due = arrivals.NextGapSeconds();
        // Like the rate, the traces per second are the run's total, shared by its instances.
        var traceEvery = options.TracedEventsPerSecond > 0 ? options.Instances / options.TracedEventsPerSecond : double.PositiveInfinity;
        var nextTraced = due;
        long sent = 0, malformed = 0, sentReported = 0;
        double lagMs = 0, maxLagMs = 0;
        var nextReport = TimeSpan.FromSeconds(1);
        var nextLog = TimeSpan.FromSeconds(5);

        while (due < end && !cancel.IsCancellationRequested)
        {
            if (_refused is { } refused) throw refused;
            var now = clock.Elapsed.TotalSeconds;
            if (due > now)
            {
                // Ahead of schedule: sleep (1 ms resolution) rather than spin, which would take a whole core from the
                // system under test; the events that come due meanwhile go out as one burst, about a millisecond late
                // at most, which the schedule lag shows.
                Thread.Sleep(1);
                continue;
            }

            while (due <= now && due < end)
            {
                var record = generator.Next(startEpochMs + (long)(due * 1000));
                var traced = due >= nextTraced;
                if (traced) nextTraced = due + traceEvery;
                var probe = sent % probeEvery == 0 ? onDelivery : null;
                Send(producer, record, traced ? Traced(record, probe) : (null, probe));
                sent++;
                if (record.Malformed) malformed++;
                lagMs = (clock.Elapsed.TotalSeconds - due) * 1000;
                if (lagMs > maxLagMs) maxLagMs = lagMs;
                due += arrivals.NextGapSeconds();
            }

            if (clock.Elapsed >= nextReport)
            {
                LagHistogram.Record(lagMs, profileTag);
                OfferedRateGauge.Record(arrivals.CurrentRate, profileTag);
                SentCounter.Add(sent - sentReported, profileTag);
                sentReported = sent;
                Publish();
                nextReport += TimeSpan.FromSeconds(1);
            }
            if (clock.Elapsed >= nextLog)
            {
                var p = Progress;
                logger.LogInformation("Sent {Sent:N0} ({Rate:N0}/s), delivered {Delivered:N0}, schedule lag {Lag:0.#} ms (max {Max:0.#}), state {State}",
                    p.Sent, p.Sent / clock.Elapsed.TotalSeconds, p.Delivered, p.ScheduleLagMs, p.MaxScheduleLagMs, p.State);
                nextLog += TimeSpan.FromSeconds(5);
            }
        }

        SentCounter.Add(sent - sentReported, profileTag);
        Publish();
        var undelivered = producer.Flush(cancel.IsCancellationRequested ? TimeSpan.FromSeconds(5) : TimeSpan.FromMinutes(1));
        // Every record is now acknowledged or failed, except those the flush gave up on; the records after the last
        // probe have no report of their own.
        Interlocked.Exchange(ref _delivered, Math.Max(0, sent - undelivered - Interlocked.Read(ref _errors)));
        logger.LogInformation("Producer finished: sent {Sent:N0}, delivered {Delivered:N0}, delivery errors {Errors:N0}, max schedule lag {Max:0.#} ms",
            sent, Interlocked.Read(ref _delivered), Interlocked.Read(ref _errors), maxLagMs);

        void Publish()
        {
            lock (_gate)
                _progress = new ProducerProgress(sent, sent, 0, 0, malformed, lagMs, maxLagMs, arrivals.State, arrivals.CurrentRate, clock.Elapsed);
        }
    }

    /// <summary>
    /// A traced record: a "send events" span whose context goes into the record's headers, ended by the delivery
    /// report (so its duration is the produce-to-acknowledgement time). No span and no headers when nobody listens.
    /// </summary>
    private (Headers?, Action<DeliveryReport<byte[], byte[]>>?) Traced(GeneratedRecord record, Action<DeliveryReport<byte[], byte[]>>? probe)
    {
        if (KafkaTracing.StartMessaging("send", pipeline.Topics.Events, ActivityKind.Producer, parent: default) is not { } span)
            return (null, probe);
        span.SetTag("ctr.event.key", record.KeyText).SetTag("ctr.event.malformed", record.Malformed);
        var headers = new Headers();
        KafkaTracing.Inject(span, headers);
        void OnDelivery(DeliveryReport<byte[], byte[]> report)
        {
            probe?.Invoke(report);
            if (report.Error.IsError) span.SetStatus(ActivityStatusCode.Error, report.Error.Reason);
            else span.SetRecordPosition(report.Partition.Value, report.Offset.Value);
            span.Stop();
        }
        return (headers, OnDelivery);
    }

    private void Send(IProducer<byte[], byte[]> producer, GeneratedRecord record, (Headers? Headers, Action<DeliveryReport<byte[], byte[]>>? OnDelivery) delivery)
    {
        var (headers, onDelivery) = delivery;
        var message = new Message<byte[], byte[]> { Key = record.Key, Value = record.Value, Headers = headers };
        while (true)
        {
            try
            {
                if (record.Partition is { } partition) producer.Produce(new TopicPartition(pipeline.Topics.Events, partition), message, onDelivery);
                else producer.Produce(pipeline.Topics.Events, message, onDelivery);
                return;
            }
            catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(1)); // the client's queue is full: this shows up as schedule lag
            }
        }
    }
}
