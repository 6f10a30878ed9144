using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;

namespace CtrPipeline.Kafka;

/// <summary>
/// An in-process Kafka-protocol cluster: librdkafka's built-in mock cluster, with real TCP listeners on 127.0.0.1
/// that any Kafka client can use. Everything it stores lives in memory only and is gone when it is disposed; it is
/// for development, tests and single-machine benchmarks, not production. Its fault-injection API (brokers down and up,
/// request errors, round-trip delay) is kept reachable for reliability tests.
/// </summary>
public sealed class EmbeddedKafkaCluster : IDisposable
{
    private readonly IntPtr _handle;
    private readonly IntPtr _cluster;
    private readonly Dictionary<string, int> _topics = [];
    private bool _disposed;

    private EmbeddedKafkaCluster(int brokers)
    {
        var error = new byte[512];
        var conf = LibRdKafka.rd_kafka_conf_new();
        LibRdKafka.rd_kafka_conf_set(conf, "client.id", "embedded-kafka", error, (nuint)error.Length);
        LibRdKafka.rd_kafka_conf_set(conf, "log_level", "4", error, (nuint)error.Length); // warnings and errors only
        // The handle only does the cluster's book keeping; it never connects anywhere.
        _handle = LibRdKafka.rd_kafka_new(LibRdKafka.Producer, conf, error, (nuint)error.Length);
        if (_handle == IntPtr.Zero)
            throw new InvalidOperationException($"librdkafka could not create a handle: {Encoding.UTF8.GetString(error).TrimEnd('\0')}");
        _cluster = LibRdKafka.rd_kafka_mock_cluster_new(_handle, brokers);
        if (_cluster == IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_destroy(_handle);
            throw new InvalidOperationException("librdkafka could not start its mock cluster (see its log lines above).");
        }
        Brokers = brokers;
        BootstrapServers = Marshal.PtrToStringUTF8(LibRdKafka.rd_kafka_mock_cluster_bootstraps(_cluster))!;
        try
        {
            AdvertiseOnlyVersionsTheMockParses();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// The mock advertises the flexible (KIP-482) versions JoinGroup v6, SyncGroup v4 and LeaveGroup v3-v4 but reads
    /// their requests in the older layout: JoinGroup's protocols and SyncGroup's assignments as 4-byte array counts
    /// (the mock then drops the connection), LeaveGroup v3+ as one member id instead of a members array (and answers
    /// without the array). librdkafka's own client never sends those versions (it stops at 5, 3 and 1); the Java client
    /// sends JoinGroup v6 and SyncGroup v4, KafkaJS LeaveGroup v3. Advertising the last versions the mock parses makes
    /// every client pick those. See docs/embedded-broker.md.
    /// </summary>
    private void AdvertiseOnlyVersionsTheMockParses()
    {
        foreach (var (api, name, maxVersion) in new (short, string, short)[] { (11, "JoinGroup", 5), (14, "SyncGroup", 3), (13, "LeaveGroup", 2) })
            Check(LibRdKafka.rd_kafka_mock_set_apiversion(_cluster, api, 0, maxVersion), $"limit {name} to versions 0-{maxVersion}");
    }

    /// <summary>Starts a cluster of <paramref name="brokers"/> brokers (ids 1..n) with the given topics created.</summary>
    public static EmbeddedKafkaCluster Start(int brokers, IEnumerable<(string Topic, int Partitions)> topics)
    {
        if (brokers < 1) throw new ArgumentOutOfRangeException(nameof(brokers), brokers, "An embedded cluster needs at least one broker.");
        var cluster = new EmbeddedKafkaCluster(brokers);
        try
        {
            foreach (var (topic, partitions) in topics) cluster.CreateTopic(topic, partitions);
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>The brokers' own listeners, e.g. "127.0.0.1:40211,127.0.0.1:38877".</summary>
    public string BootstrapServers { get; }

    /// <summary>
    /// Each broker's own listener, by broker id (1..n; the mock lists its bootstrap servers in id order): where a proxy
    /// in front of it forwards to.
    /// </summary>
    public IReadOnlyDictionary<int, string> Listeners =>
        BootstrapServers.Split(',').Select((address, i) => (Id: i + 1, address)).ToDictionary(b => b.Id, b => b.address);

    /// <summary>
    /// Makes the metadata name <paramref name="host"/>:<paramref name="port"/> for broker <paramref name="brokerId"/>
    /// (a proxy in front of it); the broker keeps listening where it did.
    /// </summary>
    public void Advertise(int brokerId, string host, int port) =>
        LibRdKafka.rd_kafka_mock_broker_set_host_port(_cluster, brokerId, host, port);

    public int Brokers { get; }

    public IReadOnlyDictionary<string, int> Topics => _topics;

    public void CreateTopic(string topic, int partitions)
    {
        Check(LibRdKafka.rd_kafka_mock_topic_create(_cluster, topic, partitions, Math.Min(Brokers, 3)), $"create topic '{topic}'");
        _topics[topic] = partitions;
    }

    /// <summary>
    /// Empties every topic by moving each partition's start offset to its end (Kafka's DeleteRecords). Offsets keep
    /// growing, so consumers that keep running go on from where they are, and a committed offset that now lies before
    /// the start is reset by auto.offset.reset: nothing running breaks. Returns the records removed per topic.
    /// </summary>
    public IReadOnlyDictionary<string, long> ResetTopics()
    {
        var removed = new Dictionary<string, long>();
        foreach (var (topic, partition, low, high) in Offsets())
        {
            if (high > low)
                Check(LibRdKafka.rd_kafka_mock_partition_delete_records(_cluster, topic, partition, high), $"empty {topic}[{partition}]");
            removed[topic] = removed.GetValueOrDefault(topic) + (high - low);
        }
        return removed;
    }

    /// <summary>Start and end offsets of every partition, read with a real client over the wire.</summary>
    public IReadOnlyList<(string Topic, int Partition, long Low, long High)> Offsets()
    {
        var config = new ConsumerConfig { BootstrapServers = BootstrapServers, GroupId = "embedded-kafka-admin", ClientId = "embedded-kafka-admin" };
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(config).Build();
        var offsets = new List<(string, int, long, long)>();
        foreach (var (topic, partitions) in _topics)
            for (var p = 0; p < partitions; p++)
            {
                var w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10));
                offsets.Add((topic, p, w.Low.Value, w.High.Value));
            }
        return offsets;
    }

    /// <summary>Disconnects broker <paramref name="brokerId"/> (-1: all) and refuses new connections.</summary>
    public void SetBrokerDown(int brokerId) => Check(LibRdKafka.rd_kafka_mock_broker_set_down(_cluster, brokerId), $"take broker {brokerId} down");

    /// <summary>Lets broker <paramref name="brokerId"/> (-1: all) accept connections again.</summary>
    public void SetBrokerUp(int brokerId) => Check(LibRdKafka.rd_kafka_mock_broker_set_up(_cluster, brokerId), $"bring broker {brokerId} up");

    /// <summary>Delays every response of broker <paramref name="brokerId"/> (-1: all) by <paramref name="rttMs"/>.</summary>
    public void SetBrokerRtt(int brokerId, int rttMs) => Check(LibRdKafka.rd_kafka_mock_broker_set_rtt(_cluster, brokerId, rttMs), $"set broker {brokerId} rtt");

    /// <summary>The next requests of Kafka API <paramref name="apiKey"/> (e.g. 0 = Produce) fail with these errors, in order.</summary>
    public void PushRequestErrors(short apiKey, params ErrorCode[] errors) =>
        LibRdKafka.rd_kafka_mock_push_request_errors_array(_cluster, apiKey, (nuint)errors.Length, [.. errors.Select(e => (int)e)]);

    private static void Check(int err, string what)
    {
        if (err != 0) throw new InvalidOperationException($"Embedded Kafka could not {what}: {LibRdKafka.ErrorText(err)}");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        LibRdKafka.rd_kafka_mock_cluster_destroy(_cluster);
        LibRdKafka.rd_kafka_destroy(_handle);
    }
}
