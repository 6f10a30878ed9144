using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.Streaming;
using Microsoft.Extensions.Logging;

namespace NativeEngine.Worker;

/// <summary>
/// Runs a <see cref="CtrEngine"/> against Kafka: consumes the events topic, publishes CTR rows, dead-letters malformed
/// records and unknown ads, routes late records, and commits offsets.
/// <para>
/// Delivery guarantee: at-least-once. Offsets are committed only after every row, dead letter and late record that
/// depends on them has been delivered (the producer is flushed first), and only up to the first record still held by
/// an open window. A restart therefore replays every event of the windows that were open and rebuilds them; nothing is
/// lost. Rows of windows finalized before the crash can be published again, and because the watermark restarts from
/// nothing, a replayed event of an already-emitted window can produce a partial duplicate row: readers take the last
/// final row per (engine, window, campaign) and should expect this after a crash.
/// </para>
/// </summary>
public sealed class NativeEngineRunner(EngineOptions options, PipelineSettings pipeline, CampaignCatalog catalog, string bootstrapServers, ILogger<NativeEngineRunner> logger)
{
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _drainRequested;
    private EngineProgress _progress = new(0, 0, 0, 0, 0, 0, 0, long.MinValue, 0);
    private long _deliveryErrors;

    public EngineProgress Progress
    {
        get { lock (_gate) return _progress with { DeliveryErrors = Interlocked.Read(ref _deliveryErrors) }; }
    }

    /// <summary>Completes once the consumer group has given the engine its partitions.</summary>
    public Task Assigned => _assigned.Task;

    /// <summary>The consume loop, on its own thread (Confluent.Kafka's Consume blocks).</summary>
    public Task RunAsync(CancellationToken cancel) =>
        Task.Factory.StartNew(() => Run(cancel), cancel, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>End of input: close every window, publish, flush and commit. Completes when that is done.</summary>
    public Task DrainAsync(CancellationToken cancel)
    {
        _drainRequested = true;
        return _drained.Task.WaitAsync(cancel);
    }

    private void Run(CancellationToken cancel)
    {
        var engine = new CtrEngine(options.Id, options.Mode, pipeline, catalog, () => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var metrics = new EngineMetrics(options.Id, () => Progress);
        var reportedErrors = new HashSet<ErrorCode>();
        void OnError(Error e)
        {
            // librdkafka reconnects by itself; say so once per kind of error instead of flooding the log.
            if (reportedErrors.Add(e.Code))
                logger.LogWarning("Kafka at {Bootstrap}: {Reason}. The client keeps retrying.", bootstrapServers, e.Reason);
        }

        using var consumer = new ConsumerBuilder<string, byte[]>(KafkaClients.Consumer(bootstrapServers, options.GroupId, options.Id))
            .SetErrorHandler((_, e) => OnError(e))
            .SetPartitionsAssignedHandler((_, partitions) => { _assigned.TrySetResult(); })
            .Build();
        using var producer = new ProducerBuilder<string, byte[]>(KafkaClients.Producer(bootstrapServers, options.Id))
            .SetErrorHandler((_, e) => OnError(e)).Build();
        consumer.Subscribe(pipeline.Topics.Events);
        logger.LogInformation("{Engine} consuming {Topic} from {Bootstrap} (window {Window}, watermark delay {Delay}, tick {Tick})",
            options.Id, pipeline.Topics.Events, bootstrapServers, pipeline.WindowSize, pipeline.WatermarkDelay, engine.TickInterval);

        var output = new List<CtrResult>();
        var engineHeader = Encoding.UTF8.GetBytes(options.Id);
        Action<DeliveryReport<string, byte[]>> onDelivery = r =>
        {
            if (r.Error.IsError && Interlocked.Increment(ref _deliveryErrors) == 1)
                logger.LogError("Publishing to {Topic} failed: {Reason}", r.Topic, r.Error.Reason);
        };
        long consumed = 0, bad = 0, published = 0, lag = 0;
        long reportedConsumed = 0, reportedLate = 0, reportedBad = 0, reportedPublished = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var nextTick = engine.TickInterval;
        var nextCommit = options.CommitInterval;

        void Publish()
        {
            foreach (var row in output)
                Send(pipeline.Topics.Results, row.CampaignId.ToString(System.Globalization.CultureInfo.InvariantCulture), WireFormat.Serialize(row), null);
            published += output.Count;
            output.Clear();
        }

        void Send(string topic, string? key, byte[] value, Headers? headers)
        {
            var message = new Message<string, byte[]> { Key = key!, Value = value, Headers = headers };
            while (true)
            {
                try
                {
                    producer.Produce(topic, message, onDelivery);
                    return;
                }
                catch (ProduceException<string, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10)); // back-pressure from the broker: wait for deliveries
                }
            }
        }

        void SideOutput(string topic, ConsumeResult<string, byte[]> r, string? reason)
        {
            var headers = new Headers { { "engine", engineHeader } };
            if (reason is not null) headers.Add("error", Encoding.UTF8.GetBytes(reason));
            Send(topic, r.Message.Key, r.Message.Value, headers);
        }

        void Commit()
        {
            producer.Flush(cancel); // everything the offsets vouch for is delivered first
            var assigned = consumer.Assignment.Where(tp => tp.Topic == pipeline.Topics.Events).Select(tp => tp.Partition.Value).ToHashSet();
            var offsets = engine.SafeCommitOffsets()
                .Where(o => assigned.Contains(o.Key))
                .Select(o => new TopicPartitionOffset(pipeline.Topics.Events, o.Key, o.Value)).ToList();
            if (offsets.Count > 0)
            {
                try { consumer.Commit(offsets); }
                catch (KafkaException e) { logger.LogWarning("Offset commit failed, will retry: {Reason}", e.Error.Reason); }
            }
            lag = 0;
            foreach (var tp in consumer.Assignment)
            {
                var high = consumer.GetWatermarkOffsets(tp).High;
                var position = consumer.Position(tp);
                if (high != Offset.Unset) lag += Math.Max(0, high.Value - (position == Offset.Unset ? 0 : position.Value));
            }
        }

        void Report()
        {
            lock (_gate)
                _progress = new EngineProgress(consumed, engine.Accepted, engine.Late, bad, published, 0, lag, engine.Watermark, engine.OpenWindows);
            metrics.Record(consumed - reportedConsumed, engine.Late - reportedLate, bad - reportedBad, published - reportedPublished);
            (reportedConsumed, reportedLate, reportedBad, reportedPublished) = (consumed, engine.Late, bad, published);
        }

        try
        {
            while (!cancel.IsCancellationRequested)
            {
                if (_drainRequested && !_drained.Task.IsCompleted)
                {
                    engine.Drain(output);
                    Publish();
                    Commit();
                    Report();
                    _drained.TrySetResult();
                }

                var r = consumer.Consume(TimeSpan.FromMilliseconds(5));
                if (r is not null && !r.IsPartitionEOF)
                {
                    consumed++;
                    if (!WireFormat.TryParseEvent(r.Message.Value, out var e, out var reason))
                    {
                        bad++;
                        SideOutput(pipeline.Topics.DeadLetters, r, $"malformed: {reason}");
                    }
                    else
                    {
                        switch (engine.Process(new StreamRecord(e!, r.Partition.Value, r.Offset.Value, r.Message.Timestamp.UnixTimestampMs), output))
                        {
                            case RecordOutcome.Late:
                                SideOutput(pipeline.Topics.Late, r, null);
                                break;
                            case RecordOutcome.UnknownAd:
                                bad++;
                                SideOutput(pipeline.Topics.DeadLetters, r, $"unknown ad_id {e!.AdId}");
                                break;
                        }
                        if (output.Count > 0) Publish();
                    }
                }

                var now = clock.Elapsed;
                if (now >= nextTick)
                {
                    engine.Tick(output);
                    Publish();
                    nextTick = now + engine.TickInterval;
                    Report();
                }
                if (now >= nextCommit)
                {
                    Commit();
                    nextCommit = now + options.CommitInterval;
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
        }
        finally
        {
            Report();
            _drained.TrySetCanceled(CancellationToken.None);
            consumer.Close();
        }
    }
}
