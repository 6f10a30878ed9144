using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace CtrPipeline.Testing;

/// <summary>
/// An embedded Kafka cluster with the pipeline's topics, and real clients to write events and read topics back.
/// </summary>
internal sealed class KafkaFixture : IDisposable
{
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    /// <summary>A window boundary (10 s windows), so event times read as offsets into windows.</summary>
    public const long T0 = 1_700_000_000_000;

    /// <summary>3 campaigns x 2 ads: ads 1-2 belong to campaign 1, 3-4 to campaign 2, 5-6 to campaign 3.</summary>
    public static readonly CampaignCatalog Catalog = CampaignCatalog.Generate(3, 2);

    private readonly EmbeddedKafkaCluster _cluster;
    private readonly IProducer<byte[], byte[]> _producer;
    private long _nextEventId;

    /// <param name="brokers">Brokers of the cluster (the mock spreads partition leaders over them).</param>
    /// <param name="topicPrefix">Names the topics &lt;prefix&gt;-events and so on, as a benchmark run's on a shared cluster.</param>
    /// <param name="idleTimeout">The watermark's idle timeout; a minute (no idleness during a test) unless given.</param>
    /// <param name="extraTopics">Topics of one partition to create as well (an engine's state topic).</param>
    public KafkaFixture(int brokers = 1, string? topicPrefix = null, TimeSpan? idleTimeout = null, IEnumerable<string>? extraTopics = null)
    {
        Pipeline = new PipelineSettings
        {
            Topics = topicPrefix is null ? new TopicNames() : new TopicNames().WithPrefix(topicPrefix),
            Partitions = 2,
            WindowSize = TimeSpan.FromSeconds(10),
            WatermarkDelay = TimeSpan.FromSeconds(2),
            IdleTimeout = idleTimeout ?? TimeSpan.FromMinutes(1),
            WatermarkInterval = TimeSpan.FromMilliseconds(50),
            TriggerInterval = TimeSpan.FromMilliseconds(200),
        }.Validate();
        _cluster = EmbeddedKafkaCluster.Start(brokers, Pipeline.Topics.All.Select(t => (t, Pipeline.Partitions)).Concat((extraTopics ?? []).Select(t => (t, 1))));
        _producer = new ProducerBuilder<byte[], byte[]>(KafkaClients.Producer(new KafkaConnection(Bootstrap), "test-events")).Build();
    }

    /// <summary>Windows of 10 s, watermark 2 s behind, quick ticks and triggers.</summary>
    public PipelineSettings Pipeline { get; }

    /// <summary>The mock cluster itself, for fault injection (slow brokers, partition leaders).</summary>
    public EmbeddedKafkaCluster Cluster => _cluster;

    public string Bootstrap => _cluster.BootstrapServers;

    /// <summary>Writes an event at <paramref name="eventTimeInRun"/> ms after <see cref="T0"/>; returns its bytes.</summary>
    public byte[] Send(int partition, long eventTimeInRun, int adId, EventType type = EventType.View)
    {
        var value = WireFormat.Serialize(new AdEvent(++_nextEventId, type, adId, 42, T0 + eventTimeInRun));
        SendRaw(partition, value, Encoding.UTF8.GetBytes(adId.ToString()));
        return value;
    }

    /// <summary>Writes events (partition, ms after <see cref="T0"/>, ad) and waits once for all of them to be delivered.</summary>
    public void SendMany(IEnumerable<(int Partition, long EventTimeInRun, int AdId)> events, TimeSpan? limit = null)
    {
        foreach (var (partition, time, ad) in events)
        {
            var value = WireFormat.Serialize(new AdEvent(++_nextEventId, EventType.View, ad, 42, T0 + time));
            _producer.Produce(new TopicPartition(Pipeline.Topics.Events, partition),
                new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(ad.ToString()), Value = value });
        }
        Assert.Equal(0, _producer.Flush(limit ?? WaitLimit));
    }

    public void SendRaw(int partition, byte[] value, byte[] key)
    {
        _producer.Produce(new TopicPartition(Pipeline.Topics.Events, partition), new Message<byte[], byte[]> { Key = key, Value = value });
        Assert.Equal(0, _producer.Flush(WaitLimit));
    }

    /// <summary>Every record of <paramref name="topic"/>, read from the beginning by a fresh consumer up to the end of each partition.</summary>
    public List<ConsumeResult<byte[], byte[]>> ReadAll(string topic)
    {
        var config = KafkaClients.Consumer(new KafkaConnection(Bootstrap), $"reader-{Guid.NewGuid():N}", "test-reader");
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        consumer.Assign(Enumerable.Range(0, Pipeline.Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<ConsumeResult<byte[], byte[]>>();
        var atEnd = new HashSet<int>();
        var clock = Stopwatch.StartNew();
        while (atEnd.Count < Pipeline.Partitions)
        {
            Assert.True(clock.Elapsed < WaitLimit, $"reading {topic} took longer than {WaitLimit}");
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not { } r) continue;
            if (r.IsPartitionEOF) atEnd.Add(r.Partition.Value);
            else records.Add(r);
        }
        return records;
    }

    /// <summary>The offsets the engine's consumer group has committed, per events partition (-1001 when none).</summary>
    public Dictionary<int, long> Committed(string groupId)
    {
        using var probe = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = Bootstrap, GroupId = groupId }).Build();
        return probe.Committed(Enumerable.Range(0, Pipeline.Partitions).Select(p => new TopicPartition(Pipeline.Topics.Events, p)), WaitLimit)
            .ToDictionary(o => o.Partition.Value, o => o.Offset.Value);
    }

    /// <summary>A record header as text; null when absent.</summary>
    public static string? Header(ConsumeResult<byte[], byte[]> record, string key) =>
        record.Message.Headers.TryGetLastBytes(key, out var value) ? Encoding.UTF8.GetString(value) : null;

    /// <summary>The embedded broker takes about 9 s (the session timeout less 1 s) for each rebalance that a member joins or leaves.</summary>
    public static readonly TimeSpan RebalanceLimit = TimeSpan.FromSeconds(90);

    public static Task Until(Func<bool> condition, string what) => Until(condition, what, WaitLimit);

    public static async Task Until(Func<bool> condition, string what, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < limit, $"gave up waiting for {what}");
            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        _producer.Dispose();
        _cluster.Dispose();
    }
}
