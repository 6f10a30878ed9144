using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using Confluent.Kafka.Admin;
using CtrPipeline.Kafka;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.NativeEngine;

/// <summary>
/// What a commit made durable, per events partition: <see cref="Offsets"/>, where a rebuild resumes reading (the first
/// record still held by an open window); <see cref="Positions"/>, the offset after the last record whose effects are
/// committed; and <see cref="Watermark"/>, the emitted-window frontier: every window ending at or before it was
/// finalized and its rows committed. A record replayed from below a position into such a window is skipped (its row,
/// late or dead-letter record is out already); a new record into such a window is late.
/// </summary>
public sealed record EngineCheckpoint(long Watermark, Dictionary<int, long> Positions, Dictionary<int, long> Offsets)
{
    /// <summary>True when <paramref name="offset"/> of <paramref name="partition"/> was read, and its effects committed, before this checkpoint.</summary>
    public bool Covers(int partition, long offset) => Positions.TryGetValue(partition, out var position) && offset < position;

    public bool SameAs(EngineCheckpoint? other) =>
        other is not null && other.Watermark == Watermark
        && other.Positions.Count == Positions.Count && other.Positions.All(p => Positions.GetValueOrDefault(p.Key, -1) == p.Value)
        && other.Offsets.Count == Offsets.Count && other.Offsets.All(o => Offsets.GetValueOrDefault(o.Key, -1) == o.Value);

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this);

    public static EngineCheckpoint? Parse(byte[]? value)
    {
        if (value is null) return null;
        try
        {
            return JsonSerializer.Deserialize<EngineCheckpoint>(value);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>
/// The exactly-once engine's checkpoints in a compacted state topic, one record per commit keyed by the engine's
/// transactional id and written in the same transaction as the rows: the checkpoint carries the offsets, as Flink's
/// Kafka source keeps them in its checkpoints. The consumer group's offsets are stored only after the commit, for lag.
/// <para>
/// Why not <c>SendOffsetsToTransaction</c>: librdkafka's call can block past its timeout while the group coordinator
/// is away, and even after it is back (librdkafka issues 5456 and 5511; seen here with a 12 s broker outage: the engine
/// hung for good). Nor could the offset commit hold the frontier: Confluent.Kafka's <c>TopicPartitionOffset</c> carries
/// no metadata (2.16). A record in the transaction is just as atomic, and it also works on the embedded broker, which
/// accepts transactional offset commits but does not store them.
/// </para>
/// </summary>
public static class CheckpointStore
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const int Partition = 0;

    /// <summary>
    /// Creates the topic (compacted, one partition) unless it exists; a broker without CreateTopics (librdkafka's mock
    /// without the embedded broker's proxy, as the benchmark runs it in process) creates it on first write.
    /// </summary>
    public static void EnsureTopic(KafkaConnection kafka, string topic, ILogger logger)
    {
        KafkaRefusedException? refused = null;
        using var admin = new AdminClientBuilder(KafkaClients.Admin(kafka, "ctr-checkpoint-topic"))
            .SetErrorHandler((_, e) => refused ??= KafkaRefusedException.From(e, kafka))
            .SetLogHandler(KafkaClients.LogTo(logger))
            .Build();
        try
        {
            admin.CreateTopicsAsync(
                [new TopicSpecification { Name = topic, NumPartitions = 1, Configs = new() { ["cleanup.policy"] = "compact" } }],
                new CreateTopicsOptions { RequestTimeout = TimeSpan.FromSeconds(5), OperationTimeout = TimeSpan.FromSeconds(5) })
                .GetAwaiter().GetResult();
        }
        catch (CreateTopicsException e) when (e.Results.All(r => r.Error.Code == ErrorCode.TopicAlreadyExists))
        {
        }
        catch (KafkaException e)
        {
            if ((refused ?? KafkaRefusedException.From(e.Error, kafka)) is { } refusal) throw refusal;
            logger.LogDebug("Could not create {Topic} ({Reason}); the first checkpoint creates it.", topic, e.Error.Reason);
        }
    }

    /// <summary>The newest committed checkpoint of <paramref name="key"/>; null when there is none.</summary>
    public static EngineCheckpoint? ReadLatest(KafkaConnection kafka, string topic, string key, string groupId)
    {
        var config = KafkaClients.Consumer(kafka, $"{groupId}-checkpoint", $"{groupId}-checkpoint");
        config.EnablePartitionEof = true;
        using var reader = new ConsumerBuilder<byte[], byte[]>(config).Build();
        var tp = new TopicPartition(topic, Partition);
        WatermarkOffsets range;
        try
        {
            range = reader.QueryWatermarkOffsets(tp, Timeout);
        }
        catch (KafkaException e) when (e.Error.Code is ErrorCode.UnknownTopicOrPart or ErrorCode.Local_UnknownTopic or ErrorCode.Local_UnknownPartition)
        {
            return null;
        }
        if (range.High <= range.Low) return null;

        var keyBytes = Encoding.UTF8.GetBytes(key);
        EngineCheckpoint? Scan(long from)
        {
            reader.Assign(new TopicPartitionOffset(tp, from));
            EngineCheckpoint? latest = null;
            var clock = Stopwatch.StartNew();
            while (true)
            {
                if (clock.Elapsed > Timeout) throw new TimeoutException($"Reading the checkpoints in {topic} took longer than {Timeout}.");
                if (reader.Consume(TimeSpan.FromMilliseconds(100)) is not { } r) continue;
                if (r.IsPartitionEOF) return latest;
                if (r.Message.Key is { } k && k.AsSpan().SequenceEqual(keyBytes) && EngineCheckpoint.Parse(r.Message.Value) is { } checkpoint)
                    latest = checkpoint;
            }
        }
        // The newest records first: on a compacted topic the key's latest record is among them unless many engines share it.
        var tail = Math.Max(range.Low, range.High - 1_000);
        return Scan(tail) ?? (tail > range.Low ? Scan(range.Low) : null);
    }

    public static void Write(IProducer<byte[], byte[]> producer, string topic, string key, EngineCheckpoint checkpoint, Action<DeliveryReport<byte[], byte[]>> onDelivery) =>
        producer.Produce(new TopicPartition(topic, Partition),
            new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = checkpoint.Serialize() }, onDelivery);
}
