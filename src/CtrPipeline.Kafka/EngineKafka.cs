using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Kafka;

/// <summary>
/// The Kafka side every engine worker shares: a consumer of the events topic in the engine's own group and a producer
/// for results and side outputs. Errors are reported once per kind (librdkafka retries by itself), failed deliveries
/// counted, a full producer queue waited out (back-pressure) and consumer lag read from the fetched high watermarks.
/// The producer retries for as long as the broker is away: the caller commits offsets only after delivery. With a
/// transactional id the producer is transactional instead (idempotent, acks=all, deliveries time out with the
/// transaction) and the caller owns the transactions.
/// </summary>
public sealed class EngineKafka : IDisposable
{
    private readonly string _engine;
    private readonly KafkaConnection _kafka;
    private readonly ILogger _logger;
    private readonly byte[] _engineHeader;
    private readonly ConcurrentDictionary<ErrorCode, bool> _reportedErrors = new();
    private readonly bool _transactional;
    private readonly BacklogProbe _backlog;
    /// <summary>
    /// The backlog probe's own client: its questions travel on connections of their own, never queued before the
    /// engine's fetches (a slow broker answers a connection's requests one after the other).
    /// </summary>
    private readonly IConsumer<Ignore, Ignore> _probeClient;
    private long _deliveryErrors;
    private volatile KafkaRefusedException? _refused;

    /// <param name="onAssigned">
    /// Called on the consume thread when the group hands the consumer partitions of the events topic, with their
    /// numbers (under cooperative assignment only the ones added).
    /// </param>
    /// <param name="onRevoked">
    /// Called on the consume thread before partitions are taken away, with their numbers and whether they were lost
    /// (the group moved on without this member, so nothing may be committed for them any more).
    /// </param>
    /// <param name="startOffsets">
    /// Called on the consume thread after <paramref name="onAssigned"/>: where the added partitions start, by partition
    /// (absent or null: the group's committed offset).
    /// </param>
    /// <param name="transactionalId">Makes the producer transactional; stable per engine so a restart fences its predecessor.</param>
    public EngineKafka(KafkaConnection kafka, string groupId, string engine, ILogger logger, Action<IReadOnlyList<int>> onAssigned,
        Action<IReadOnlyList<int>, bool>? onRevoked = null, Func<IReadOnlyList<int>, IReadOnlyDictionary<int, long>?>? startOffsets = null,
        string? transactionalId = null)
    {
        _transactional = transactionalId is not null;
        _engine = engine;
        _kafka = kafka;
        _logger = logger;
        _engineHeader = Encoding.UTF8.GetBytes(engine);
        OnDelivery = CountFailure;

        var consumerConfig = KafkaClients.Consumer(kafka, groupId, engine);
        // Offsets the caller stores (once their effects are durable) are committed in the background: a synchronous
        // commit blocks the consume loop while the group coordinator is away, and the consumer cannot rejoin meanwhile.
        consumerConfig.EnableAutoCommit = true;
        consumerConfig.AutoCommitIntervalMs = 1_000;
        var consumer = new ConsumerBuilder<byte[], byte[]>(consumerConfig)
            .SetErrorHandler((_, e) => ReportError(e))
            .SetLogHandler(KafkaClients.LogTo(logger))
            .SetPartitionsAssignedHandler((_, partitions) =>
            {
                logger.LogInformation("{Engine} assigned {Partitions}", engine, string.Join(", ", partitions.Select(p => p.Partition.Value)));
                var numbers = partitions.Select(p => p.Partition.Value).ToList();
                onAssigned(numbers);
                var start = startOffsets?.Invoke(numbers);
                return partitions.Select(p => new TopicPartitionOffset(p, start is not null && start.TryGetValue(p.Partition.Value, out var offset) ? offset : Offset.Unset));
            });
        if (onRevoked is not null)
            consumer
                .SetPartitionsRevokedHandler((_, partitions) =>
                {
                    logger.LogInformation("{Engine} revoked {Partitions}", engine, string.Join(", ", partitions.Select(p => p.Partition.Value)));
                    onRevoked(partitions.Select(p => p.Partition.Value).ToList(), false);
                })
                .SetPartitionsLostHandler((_, partitions) =>
                {
                    logger.LogWarning("{Engine} lost {Partitions} (the group moved on without it)", engine, string.Join(", ", partitions.Select(p => p.Partition.Value)));
                    onRevoked(partitions.Select(p => p.Partition.Value).ToList(), true);
                });
        Consumer = consumer.Build();

        var producerConfig = KafkaClients.Producer(kafka, engine);
        if (transactionalId is not null)
        {
            producerConfig.TransactionalId = transactionalId;
            producerConfig.EnableIdempotence = true;
            producerConfig.Acks = Acks.All;
            // Deliveries may not outlive the transaction; an undelivered one makes the caller abort and replay.
            producerConfig.TransactionTimeoutMs = producerConfig.MessageTimeoutMs;
        }
        // Keep retrying while the broker is away instead of dropping output whose offsets are not committed yet.
        else producerConfig.MessageTimeoutMs = 0;
        Producer = new ProducerBuilder<byte[], byte[]>(producerConfig)
            .SetErrorHandler((_, e) => ReportError(e))
            .SetLogHandler(KafkaClients.LogTo(logger))
            .Build();
        var probeConfig = KafkaClients.Consumer(kafka, groupId, $"{engine}-backlog-probe");
        probeConfig.EnableAutoCommit = false; // it never subscribes: it only reads offsets, the group's committed ones included
        _probeClient = new ConsumerBuilder<Ignore, Ignore>(probeConfig)
            .SetErrorHandler((_, _) => { }) // the engine's own clients report the broker's errors
            .SetLogHandler(KafkaClients.LogTo(logger))
            .Build();
        _backlog = new BacklogProbe(AskBroker);
    }

    public IConsumer<byte[], byte[]> Consumer { get; }

    public IProducer<byte[], byte[]> Producer { get; }

    /// <summary>Records the producer could not deliver; after the first one the engine must stop committing offsets.</summary>
    public long DeliveryErrors => Interlocked.Read(ref _deliveryErrors);

    /// <summary>The delivery handler <see cref="Send"/> uses by default; a caller's own handler should call it too.</summary>
    public Action<DeliveryReport<byte[], byte[]>> OnDelivery { get; }

    /// <summary>
    /// Says once per kind of error what went wrong; a fatal error every time. A refusal (authentication, TLS,
    /// permissions), which retrying cannot mend, is kept for <see cref="ThrowIfRefused"/>.
    /// </summary>
    public void ReportError(Error error)
    {
        var refused = KafkaRefusedException.From(error, _kafka);
        if (refused is not null) _refused ??= refused;
        if (error.IsFatal || refused is not null)
            _logger.LogCritical("Kafka at {Bootstrap} failed for good: {Reason} ({Code}).", _kafka.BootstrapServers, refused?.Message ?? error.Reason, error.Code);
        else if (_reportedErrors.TryAdd(error.Code, true))
            _logger.LogWarning("Kafka at {Bootstrap}: {Reason} ({Code}). The client keeps retrying; check that the broker is running and reachable.",
                _kafka.BootstrapServers, error.Reason, error.Code);
    }

    /// <summary>
    /// Throws the cluster's refusal (authentication, TLS, permissions) if any client reported one: the engine's loop
    /// calls it before each poll, so it stops with one line instead of retrying what retrying cannot mend.
    /// </summary>
    public void ThrowIfRefused()
    {
        if (_refused is { } refused) throw refused;
    }

    /// <summary>Produces, waiting while the producer's queue is full (the broker is slower than the engine).</summary>
    public void Send(string topic, byte[]? key, byte[]? value, Headers? headers, CancellationToken cancel,
        Action<DeliveryReport<byte[], byte[]>>? onDelivery = null)
    {
        var message = new Message<byte[], byte[]> { Key = key!, Value = value!, Headers = headers };
        while (true)
        {
            try
            {
                Producer.Produce(topic, message, onDelivery ?? OnDelivery);
                return;
            }
            catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                cancel.ThrowIfCancellationRequested();
                Thread.Sleep(10);
            }
        }
    }

    /// <summary>The original record, unchanged, to a side topic, with headers saying which engine sent it there and why.</summary>
    public void SideOutput(string topic, Message<byte[], byte[]> original, string? error, CancellationToken cancel)
    {
        var headers = new Headers { { "engine", _engineHeader } };
        if (error is not null) headers.Add("error", Encoding.UTF8.GetBytes(error));
        Send(topic, original.Key, original.Value, headers, cancel);
    }

    /// <summary>How many partitions <paramref name="topic"/> has, from the cluster's metadata; null when the broker did not say.</summary>
    public int? PartitionCount(string topic, TimeSpan timeout)
    {
        try
        {
            using var admin = new DependentAdminClientBuilder(Producer.Handle).Build();
            var partitions = admin.GetMetadata(topic, timeout).Topics.SingleOrDefault(t => t.Topic == topic)?.Partitions.Count;
            return partitions > 0 ? partitions : null;
        }
        catch (KafkaException e)
        {
            ReportError(e.Error);
            return null;
        }
    }

    /// <summary>
    /// Whether <paramref name="partition"/> holds records the consumer has not handed to the application yet. First
    /// locally: the high watermark the last fetch reported, against the consumer's position (records fetched but queued
    /// behind other partitions'). Else by the broker's answer (<see cref="BacklogProbe"/>, asked off this thread; "yes"
    /// until it answers), which also covers a partition that has handed over nothing since its assignment. The
    /// watermark uses it: a silent partition that still has records to deliver is slow, not idle.
    /// </summary>
    public bool HasBacklog(string topic, int partition)
    {
        var tp = new TopicPartition(topic, partition);
        Offset position;
        try
        {
            position = Consumer.Position(tp);
            var high = Consumer.GetWatermarkOffsets(tp).High;
            if (position != Offset.Unset && high != Offset.Unset && high > position) return true;
        }
        catch (KafkaException)
        {
            return false; // not assigned (any more): it holds nothing back
        }
        return _backlog.HasBacklog(tp, position);
    }

    /// <summary>
    /// Says in the log that the watermark goes on without <paramref name="partition"/> (<paramref name="idle"/>), or
    /// that it holds the watermark again, with what the broker said of it last.
    /// </summary>
    public void ReportIdle(string topic, int partition, bool idle, TimeSpan idleTimeout)
    {
        if (!idle)
        {
            _logger.LogInformation("{Engine}: partition {Partition} of {Topic} holds the watermark again (it delivered, or the broker could not confirm in time that it holds nothing more)",
                _engine, partition, topic);
            return;
        }
        var broker = _backlog.Last(new TopicPartition(topic, partition)) is { } last ? $"the broker's end offset {last.High}" : "its end offset as last fetched";
        _logger.LogInformation(
            "{Engine}: partition {Partition} of {Topic} is idle (silent for {IdleTimeout}, nothing to read past its position by {Broker}); the watermark goes on without it, and events it delivers later for windows closed meanwhile go to the late topic",
            _engine, partition, topic, idleTimeout, broker);
    }

    /// <summary>On the probe's thread: the partition's high watermark and where the consumer starts without a position.</summary>
    private BrokerOffsets? AskBroker(TopicPartition partition)
    {
        var offsets = _probeClient.QueryWatermarkOffsets(partition, BacklogProbe.AnswerLifetime);
        if (offsets.High == Offset.Unset) return null;
        var committed = _probeClient.Committed([partition], BacklogProbe.AnswerLifetime).Single().Offset;
        return new BrokerOffsets(offsets.High.Value, committed.Value >= 0 ? committed.Value : offsets.Low.Value);
    }

    /// <summary>Records in the assigned partitions past the consumer's position; null when the client could not tell.</summary>
    public long? ConsumerLag()
    {
        try
        {
            long lag = 0;
            foreach (var tp in Consumer.Assignment)
            {
                var high = Consumer.GetWatermarkOffsets(tp).High;
                var position = Consumer.Position(tp);
                if (high != Offset.Unset && position != Offset.Unset) lag += Math.Max(0, high.Value - position.Value);
            }
            return lag;
        }
        catch (KafkaException e)
        {
            ReportError(e.Error);
            return null;
        }
    }

    /// <summary>Leaves the group now (not after the session timeout) and releases both clients.</summary>
    public void Dispose()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        _backlog.Dispose();
        _probeClient.Dispose();
        try
        {
            Consumer.Close();
        }
        catch (KafkaException e)
        {
            ReportError(e.Error);
        }
        var closed = clock.Elapsed;
        Consumer.Dispose();
        Producer.Dispose();
        _logger.LogInformation("{Engine} left its consumer group in {Close:0.0} s and released its Kafka clients in {Total:0.0} s",
            _engine, closed.TotalSeconds, clock.Elapsed.TotalSeconds);
    }

    private void CountFailure(DeliveryReport<byte[], byte[]> report)
    {
        if (!report.Error.IsError || Interlocked.Increment(ref _deliveryErrors) != 1) return;
        if (_transactional)
            _logger.LogError("{Engine} could not deliver to {Topic}: {Reason}. The transaction is aborted and its input read again.",
                _engine, report.Topic, report.Error.Reason);
        else
            _logger.LogError(
                "{Engine} could not deliver to {Topic}: {Reason}. Offsets are no longer committed; restart the engine to re-read and re-emit everything since the last commit.",
                _engine, report.Topic, report.Error.Reason);
    }
}
