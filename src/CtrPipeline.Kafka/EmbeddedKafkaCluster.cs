using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtrPipeline.Kafka;

/// <summary>
/// An in-process Kafka-protocol cluster: librdkafka's built-in mock cluster, with real TCP listeners on 127.0.0.1
/// that any Kafka client can use. Everything it stores lives in memory only and is gone when it is disposed; it is
/// for development, tests and single-machine benchmarks, not production. Its fault-injection API (brokers down and up,
/// request errors, round-trip delay) is kept reachable for reliability tests.
/// </summary>
public sealed partial class EmbeddedKafkaCluster : IDisposable
{
    /// <summary>Kafka's num.partitions default, for a CreateTopics request that leaves the count to the broker.</summary>
    public const int DefaultPartitions = 1;

    private readonly IntPtr _handle;
    private readonly IntPtr _cluster;
    /// <summary>Proxies create topics from their connections' threads; creation takes <see cref="_creating"/>.</summary>
    private readonly ConcurrentDictionary<string, int> _topics = new();
    private readonly Lock _creating = new();
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
            // The mock names controller 0 in its metadata, a broker it does not have (its ids are 1..n); admin clients
            // send CreateTopics to the controller and would wait for it forever.
            LibRdKafka.rd_kafka_mock_set_controller_id(_cluster, 1);
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

    /// <summary>Where <see cref="TryCreateTopic"/> reports the topic configs the mock ignores; none until set.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    public void CreateTopic(string topic, int partitions)
    {
        lock (_creating)
        {
            Check(LibRdKafka.rd_kafka_mock_topic_create(_cluster, topic, partitions, Math.Min(Brokers, 3)), $"create topic '{topic}'");
            _topics[topic] = partitions;
        }
    }

    /// <summary>
    /// Creates a topic for a CreateTopics request (a <see cref="TopicCreator"/> for <see cref="BrokerProxy"/>), checked
    /// in the order Kafka checks and answered with Kafka's error codes. Safe to call from any thread.
    /// </summary>
    public (ErrorCode Code, string? Message) TryCreateTopic(TopicCreation request)
    {
        var name = request.Name;
        if (_topics.ContainsKey(name)) return (ErrorCode.TopicAlreadyExists, $"Topic '{name}' already exists.");
        if (request.Configs.FirstOrDefault(c => c.Value is null) is { Key: { } nullConfig })
            return (ErrorCode.InvalidRequest, $"Null value not supported for topic configs: {nullConfig}");
        if (request.ManualAssignments > 0)
            return (ErrorCode.InvalidRequest, "The embedded broker does not take manual replica assignments: give numPartitions and replicationFactor.");
        var partitions = request.NumPartitions == -1 ? DefaultPartitions : request.NumPartitions;
        if (partitions < 1) return (ErrorCode.InvalidPartitions, "Number of partitions must be larger than 0.");
        var replication = request.ReplicationFactor == -1 ? (short)1 : request.ReplicationFactor;
        if (replication < 1) return (ErrorCode.InvalidReplicationFactor, "Replication factor must be larger than 0.");
        if (replication > Brokers)
            return (ErrorCode.InvalidReplicationFactor, $"Replication factor: {replication} larger than available brokers: {Brokers}.");
        if (InvalidTopicName(name) is { } why) return (ErrorCode.TopicException, why);
        if (request.ValidateOnly) return (ErrorCode.NoError, null);

        lock (_creating)
        {
            // The mock also knows the topics it created itself for a Metadata request naming them.
            var err = LibRdKafka.rd_kafka_mock_topic_create(_cluster, name, partitions, replication);
            if (err == (int)ErrorCode.TopicAlreadyExists) return (ErrorCode.TopicAlreadyExists, $"Topic '{name}' already exists.");
            if (err != 0) return (ErrorCode.Unknown, $"The embedded broker could not create topic '{name}': {LibRdKafka.ErrorText(err)}");
            _topics[name] = partitions;
        }
        WarnAboutIgnoredConfigs(name, request.Configs);
        return (ErrorCode.NoError, null);
    }

    /// <summary>The mock takes no topic configs: it keeps CreateTime timestamps and its own retention, whatever is asked.</summary>
    private void WarnAboutIgnoredConfigs(string topic, IReadOnlyList<KeyValuePair<string, string?>> configs)
    {
        if (configs.Count == 0) return;
        if (configs.Any(c => c.Key == TopicProvisioner.TimestampTypeConfig && c.Value != "CreateTime"))
            Logger.LogWarning("Topic {Topic} was created with {Config}={Value}, but the embedded broker keeps CreateTime: record timestamps are the producers', not the broker's arrival times.",
                topic, TopicProvisioner.TimestampTypeConfig, configs.First(c => c.Key == TopicProvisioner.TimestampTypeConfig).Value);
        var others = configs.Where(c => c.Key != TopicProvisioner.TimestampTypeConfig).Select(c => $"{c.Key}={c.Value}").ToList();
        if (others.Count > 0)
            Logger.LogWarning("Topic {Topic}: the embedded broker ignores the topic configs {Configs}.", topic, string.Join(", ", others));
    }

    /// <summary>Kafka's rules for topic names (org.apache.kafka.common.internals.Topic.validate); null when valid.</summary>
    internal static string? InvalidTopicName(string name) => name switch
    {
        "" => "Topic name is illegal, it can't be empty.",
        "." or ".." => "Topic name cannot be \".\" or \"..\".",
        { Length: > 249 } => $"Topic name is illegal, it can't be longer than 249 characters, topic name: {name}",
        _ when !LegalTopicName().IsMatch(name) =>
            $"Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'",
        _ => null,
    };

    [GeneratedRegex("^[a-zA-Z0-9._-]+$")]
    private static partial Regex LegalTopicName();

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

    /// <summary>Makes broker <paramref name="brokerId"/> the leader of <paramref name="topic"/>'s <paramref name="partition"/>.</summary>
    public void SetPartitionLeader(string topic, int partition, int brokerId) =>
        Check(LibRdKafka.rd_kafka_mock_partition_set_leader(_cluster, topic, partition, brokerId), $"move {topic}[{partition}] to broker {brokerId}");

    /// <summary>Makes broker <paramref name="brokerId"/> the coordinator of consumer group (or, with "transaction", transactional id) <paramref name="key"/>.</summary>
    public void SetCoordinator(string key, int brokerId, string keyType = "group") =>
        Check(LibRdKafka.rd_kafka_mock_coordinator_set(_cluster, keyType, key, brokerId), $"make broker {brokerId} the {keyType} coordinator of {key}");

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
