using CtrPipeline.Contracts;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace CtrPipeline.Kafka.Tests;

/// <summary>
/// CreateTopics, which librdkafka's mock lacks, answered by the proxy in front of it with the cluster's topic creator;
/// with real clients over real sockets, and with raw frames where the order of responses on one connection matters.
/// </summary>
public sealed class CreateTopicsThroughProxyTests
{
    private static async Task<(EmbeddedKafkaCluster Cluster, BrokerProxy[] Proxies)> StartAsync(int brokers, bool withCreator = true)
    {
        var cluster = EmbeddedKafkaCluster.Start(brokers, [("existing", 1)]);
        var proxies = new List<BrokerProxy>();
        foreach (var (id, listener) in cluster.Listeners)
        {
            var proxy = new BrokerProxy(0, listener, withCreator ? cluster.TryCreateTopic : null);
            proxies.Add(proxy);
            cluster.Advertise(id, "127.0.0.1", proxy.Port);
        }
        await Task.CompletedTask;
        return (cluster, [.. proxies]);
    }

    private static IAdminClient Admin(string bootstrap) =>
        new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap, SocketTimeoutMs = 10_000 }).Build();

    [Fact]
    public async Task An_admin_client_creates_a_topic_that_producers_and_consumers_then_use()
    {
        var (cluster, proxies) = await StartAsync(3);
        using (cluster)
        {
            var bootstrap = proxies[0].Address;
            using var admin = Admin(bootstrap);
            await admin.CreateTopicsAsync([new TopicSpecification
            {
                Name = "fresh", NumPartitions = 6, ReplicationFactor = 3,
                Configs = new() { [TopicProvisioner.TimestampTypeConfig] = TopicProvisioner.LogAppendTime },
            }]);

            var topic = Assert.Single(admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics, t => t.Topic == "fresh");
            Assert.Equal(6, topic.Partitions.Count);
            Assert.Equal(6, cluster.Topics["fresh"]);

            using (var producer = new ProducerBuilder<string, string>(KafkaClients.Producer(new KafkaConnection(bootstrap), "test")).Build())
            {
                for (var i = 0; i < 60; i++) producer.Produce("fresh", new Message<string, string> { Key = $"k{i}", Value = $"v{i}" });
                Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
            }
            using var consumer = new ConsumerBuilder<string, string>(KafkaClients.Consumer(new KafkaConnection(bootstrap), "fresh-readers", "test")).Build();
            consumer.Subscribe("fresh");
            var partitions = new HashSet<int>();
            var seen = 0;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (seen < 60 && clock.Elapsed < TimeSpan.FromSeconds(30))
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } r)
                {
                    seen++;
                    partitions.Add(r.Partition.Value);
                }
            Assert.Equal(60, seen);
            Assert.True(partitions.Count > 1, "records spread over the new topic's partitions");

            // Created once: the second request is refused as Kafka refuses it.
            var again = await Assert.ThrowsAsync<CreateTopicsException>(() =>
                admin.CreateTopicsAsync([new TopicSpecification { Name = "fresh", NumPartitions = 6, ReplicationFactor = 3 }]));
            Assert.Equal(ErrorCode.TopicAlreadyExists, Assert.Single(again.Results).Error.Code);
            foreach (var proxy in proxies) await proxy.DisposeAsync();
        }
    }

    [Fact]
    public async Task Validate_only_checks_and_creates_nothing()
    {
        var (cluster, proxies) = await StartAsync(1);
        using (cluster)
        {
            using var admin = Admin(proxies[0].Address);
            await admin.CreateTopicsAsync([new TopicSpecification { Name = "checked-only", NumPartitions = 2, ReplicationFactor = 1 }],
                new CreateTopicsOptions { ValidateOnly = true });
            Assert.DoesNotContain(admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics, t => t.Topic == "checked-only");
            Assert.False(cluster.Topics.ContainsKey("checked-only"));

            // Validation still finds what a creation would refuse.
            var refused = await Assert.ThrowsAsync<CreateTopicsException>(() => admin.CreateTopicsAsync(
                [new TopicSpecification { Name = "existing", NumPartitions = 1, ReplicationFactor = 1 }], new CreateTopicsOptions { ValidateOnly = true }));
            Assert.Equal(ErrorCode.TopicAlreadyExists, Assert.Single(refused.Results).Error.Code);
            await proxies[0].DisposeAsync();
        }
    }

    [Fact]
    public async Task Bad_requests_get_Kafkas_error_codes()
    {
        var (cluster, proxies) = await StartAsync(2);
        using (cluster)
        {
            using var admin = Admin(proxies[0].Address);
            var e = await Assert.ThrowsAsync<CreateTopicsException>(() => admin.CreateTopicsAsync(
            [
                new TopicSpecification { Name = "too-many-replicas", NumPartitions = 1, ReplicationFactor = 3 },
                new TopicSpecification { Name = "bad name!", NumPartitions = 1, ReplicationFactor = 1 },
                new TopicSpecification { Name = "defaults", NumPartitions = -1, ReplicationFactor = -1 },
            ]));
            var codes = e.Results.ToDictionary(r => r.Topic, r => r.Error.Code);
            Assert.Equal(ErrorCode.InvalidReplicationFactor, codes["too-many-replicas"]);
            Assert.Equal(ErrorCode.TopicException, codes["bad name!"]);
            Assert.Equal(ErrorCode.NoError, codes["defaults"]);
            Assert.Equal(EmbeddedKafkaCluster.DefaultPartitions, cluster.Topics["defaults"]);
            Assert.False(cluster.Topics.ContainsKey("too-many-replicas"));
            foreach (var proxy in proxies) await proxy.DisposeAsync();
        }
    }

    [Fact]
    public void The_cluster_checks_topics_as_Kafka_does()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("existing", 1)]);
        (ErrorCode, string?) Create(string name, int partitions = 1, short replication = 1, int assignments = 0, string? config = "x") =>
            cluster.TryCreateTopic(new TopicCreation(name, partitions, replication, assignments, [new("retention.ms", config)], ValidateOnly: false));

        Assert.Equal(ErrorCode.InvalidPartitions, Create("zero", partitions: 0).Item1);
        Assert.Equal(ErrorCode.InvalidPartitions, Create("negative", partitions: -2).Item1);
        Assert.Equal(ErrorCode.InvalidReplicationFactor, Create("no-replicas", replication: 0).Item1);
        Assert.Equal(ErrorCode.InvalidReplicationFactor, Create("two-replicas", replication: 2).Item1);
        Assert.Equal(ErrorCode.TopicException, Create("..").Item1);
        Assert.Equal(ErrorCode.TopicException, Create(new string('a', 250)).Item1);
        Assert.Equal(ErrorCode.TopicException, Create("é").Item1);
        Assert.Equal(ErrorCode.InvalidRequest, Create("placed", partitions: -1, replication: -1, assignments: 2).Item1);
        Assert.Equal(ErrorCode.InvalidRequest, Create("null-config", config: null).Item1);
        Assert.Equal(ErrorCode.TopicAlreadyExists, Create("existing").Item1);
        Assert.Equal((ErrorCode.NoError, null), Create(new string('a', 249) is var longest ? longest : ""));
        Assert.Equal([new string('a', 249), "existing"], cluster.Topics.Keys.Order());
    }

    [Fact]
    public async Task A_proxy_without_a_creator_does_not_offer_CreateTopics()
    {
        var (cluster, proxies) = await StartAsync(1, withCreator: false);
        using (cluster)
        {
            Assert.DoesNotContain((short)19, (await ApiVersionsAsync(proxies[0].Port)).Keys);
            using var admin = Admin(proxies[0].Address);
            var e = await Assert.ThrowsAnyAsync<KafkaException>(() => admin.CreateTopicsAsync(
                [new TopicSpecification { Name = "nope", NumPartitions = 1, ReplicationFactor = 1 }],
                new CreateTopicsOptions { RequestTimeout = TimeSpan.FromSeconds(10) }));
            var error = e is CreateTopicsException c ? Assert.Single(c.Results).Error : e.Error;
            Assert.Contains("not supported", error.Reason); // librdkafka: "Topic Admin API (KIP-4) not supported by broker"
            Assert.False(cluster.Topics.ContainsKey("nope"));
            await proxies[0].DisposeAsync();
        }
    }

    [Fact]
    public async Task A_proxy_with_a_creator_adds_CreateTopics_0_to_4_to_the_mocks_versions()
    {
        var (cluster, proxies) = await StartAsync(1);
        using (cluster)
        {
            var versions = await ApiVersionsAsync(proxies[0].Port);
            Assert.Equal((0, 4), versions[(short)19]);
            Assert.Equal((0, 2), versions[(short)18]);
            await proxies[0].DisposeAsync();
        }
    }

    [Fact]
    public async Task Responses_keep_the_request_order_when_CreateTopics_is_pipelined_between_broker_requests()
    {
        var (cluster, proxies) = await StartAsync(1);
        using (cluster)
        {
            // The broker answers late, so an answer written as soon as it is made would overtake its response.
            cluster.SetBrokerRtt(1, 300);
            using var connection = new TcpClient { NoDelay = true };
            await connection.ConnectAsync("127.0.0.1", proxies[0].Port);
            var stream = connection.GetStream();
            await stream.WriteAsync((byte[])[.. MetadataV1(10), .. CreateTopicsV4(11, ("pipelined", 3, 1), ("pipelined", 3, 1), ("existing", 1, 1), ("bad/name", 1, 1)),
                .. MetadataV1(12), .. CreateTopicsV4(13, ("second", 0, 1)), .. CreateTopicsV0(14, "third")]);

            var responses = new List<byte[]>();
            for (var i = 0; i < 5; i++) responses.Add(await ReadFrameAsync(stream));
            Assert.Equal([10, 11, 12, 13, 14], responses.Select(r => BinaryPrimitives.ReadInt32BigEndian(r)));

            // v4: throttle time, then each distinct name once, with error code and message.
            var created = ParseCreateTopicsResponse(responses[1], version: 4);
            Assert.Equal(["pipelined", "existing", "bad/name"], created.Select(r => r.Name));
            Assert.Equal([ErrorCode.InvalidRequest, ErrorCode.TopicAlreadyExists, ErrorCode.TopicException], created.Select(r => r.Code));
            Assert.All(created, r => Assert.False(string.IsNullOrEmpty(r.Message)));
            Assert.Equal(ErrorCode.InvalidPartitions, Assert.Single(ParseCreateTopicsResponse(responses[3], version: 4)).Code);
            var v0 = Assert.Single(ParseCreateTopicsResponse(responses[4], version: 0));
            Assert.Equal(("third", ErrorCode.NoError, (string?)null), v0);
            Assert.Equal(1, cluster.Topics["third"]);
            await proxies[0].DisposeAsync();
        }
    }

    [Fact]
    public async Task A_produce_request_with_acks_0_gets_no_response_and_the_connection_goes_on()
    {
        var (cluster, proxies) = await StartAsync(1);
        using (cluster)
        {
            using var connection = new TcpClient { NoDelay = true };
            await connection.ConnectAsync("127.0.0.1", proxies[0].Port);
            var stream = connection.GetStream();
            // Produce v3 with acks 0, then CreateTopics and Metadata: their responses are the next frames. A Kafka broker
            // does not answer acks 0; the mock does (and a Java client would take that answer for the next request's),
            // so the proxy drops it.
            await stream.WriteAsync((byte[])[.. ProduceV3(20, acks: 0), .. CreateTopicsV4(21, ("after-produce", 1, 1)), .. MetadataV1(22)]);
            Assert.Equal(21, BinaryPrimitives.ReadInt32BigEndian(await ReadFrameAsync(stream)));
            Assert.Equal(22, BinaryPrimitives.ReadInt32BigEndian(await ReadFrameAsync(stream)));

            // With acks 1 the broker answers, and the proxy waits for that answer before its own.
            await stream.WriteAsync((byte[])[.. ProduceV3(30, acks: 1), .. CreateTopicsV4(31, ("after-acked", 1, 1))]);
            Assert.Equal(30, BinaryPrimitives.ReadInt32BigEndian(await ReadFrameAsync(stream)));
            Assert.Equal(31, BinaryPrimitives.ReadInt32BigEndian(await ReadFrameAsync(stream)));
            await proxies[0].DisposeAsync();
        }
    }

    [Fact]
    public async Task A_librdkafka_producer_with_acks_0_works_through_the_proxy()
    {
        var (cluster, proxies) = await StartAsync(1);
        using (cluster)
        {
            var bootstrap = proxies[0].Address;
            var config = KafkaClients.Producer(new KafkaConnection(bootstrap), "test");
            config.Acks = Acks.None;
            using (var producer = new ProducerBuilder<Null, string>(config).Build())
            {
                for (var i = 0; i < 500; i++) producer.Produce("existing", new Message<Null, string> { Value = $"v{i}" });
                Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
            }
            using var admin = Admin(bootstrap);
            await admin.CreateTopicsAsync([new TopicSpecification { Name = "after-acks-0", NumPartitions = 1, ReplicationFactor = 1 }]);
            using var consumer = new ConsumerBuilder<Ignore, Ignore>(KafkaClients.Consumer(new KafkaConnection(bootstrap), "acks-0", "test")).Build();
            Assert.Equal(500, consumer.QueryWatermarkOffsets(new TopicPartition("existing", 0), TimeSpan.FromSeconds(10)).High.Value);
            await proxies[0].DisposeAsync();
        }
    }

    private static byte[] Frame(short apiKey, short version, int correlationId, Action<List<byte>> body)
    {
        var bytes = new List<byte>();
        Int16(bytes, apiKey);
        Int16(bytes, version);
        Int32(bytes, correlationId);
        String(bytes, "raw-test");
        body(bytes);
        var frame = new List<byte>();
        Int32(frame, bytes.Count);
        frame.AddRange(bytes);
        return [.. frame];
    }

    /// <summary>Metadata v1 for every topic (a null topics array).</summary>
    private static byte[] MetadataV1(int correlationId) => Frame(3, 1, correlationId, b => Int32(b, -1));

    private static byte[] CreateTopicsV4(int correlationId, params (string Name, int Partitions, short Replication)[] topics) =>
        Frame(19, 4, correlationId, b =>
        {
            Int32(b, topics.Length);
            foreach (var (name, partitions, replication) in topics)
            {
                String(b, name);
                Int32(b, partitions);
                Int16(b, replication);
                Int32(b, 0); // assignments
                Int32(b, 1); // configs
                String(b, TopicProvisioner.TimestampTypeConfig);
                String(b, TopicProvisioner.LogAppendTime);
            }
            Int32(b, 5000); // timeout
            b.Add(0); // validate only
        });

    /// <summary>CreateTopics v0: one topic, broker defaults, no validate_only field.</summary>
    private static byte[] CreateTopicsV0(int correlationId, string name) => Frame(19, 0, correlationId, b =>
    {
        Int32(b, 1);
        String(b, name);
        Int32(b, -1);
        Int16(b, -1);
        Int32(b, 0);
        Int32(b, 0);
        Int32(b, 5000);
    });

    /// <summary>Produce v3: no transactional id, acks, timeout, no topics (the mock aborts on a partition without records).</summary>
    private static byte[] ProduceV3(int correlationId, short acks) => Frame(0, 3, correlationId, b =>
    {
        Int16(b, -1);
        Int16(b, acks);
        Int32(b, 5000);
        Int32(b, 0);
    });

    private static async Task<Dictionary<short, (int Min, int Max)>> ApiVersionsAsync(int port)
    {
        using var connection = new TcpClient();
        await connection.ConnectAsync("127.0.0.1", port);
        var stream = connection.GetStream();
        await stream.WriteAsync(Frame(18, 2, 7, _ => { }));
        var span = (await ReadFrameAsync(stream)).AsSpan();
        Assert.Equal(7, BinaryPrimitives.ReadInt32BigEndian(span));
        var count = BinaryPrimitives.ReadInt32BigEndian(span[6..]);
        Assert.Equal(10 + 6 * count + 4, span.Length);
        var versions = new Dictionary<short, (int, int)>();
        for (var i = 0; i < count; i++)
        {
            var entry = span[(10 + 6 * i)..];
            versions[BinaryPrimitives.ReadInt16BigEndian(entry)] = (BinaryPrimitives.ReadInt16BigEndian(entry[2..]), BinaryPrimitives.ReadInt16BigEndian(entry[4..]));
        }
        return versions;
    }

    private static List<(string Name, ErrorCode Code, string? Message)> ParseCreateTopicsResponse(byte[] response, short version)
    {
        var position = 4;
        if (version >= 2)
        {
            Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(response.AsSpan(position)));
            position += 4;
        }
        var count = BinaryPrimitives.ReadInt32BigEndian(response.AsSpan(position));
        position += 4;
        var results = new List<(string, ErrorCode, string?)>();
        for (var i = 0; i < count; i++)
        {
            var name = ReadString(response, ref position)!;
            var code = (ErrorCode)BinaryPrimitives.ReadInt16BigEndian(response.AsSpan(position));
            position += 2;
            results.Add((name, code, version >= 1 ? ReadString(response, ref position) : null));
        }
        Assert.Equal(response.Length, position);
        return results;
    }

    private static string? ReadString(byte[] bytes, ref int position)
    {
        var length = BinaryPrimitives.ReadInt16BigEndian(bytes.AsSpan(position));
        position += 2;
        if (length < 0) return null;
        var value = Encoding.UTF8.GetString(bytes, position, length);
        position += length;
        return value;
    }

    private static async Task<byte[]> ReadFrameAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var size = new byte[4];
        await stream.ReadExactlyAsync(size, timeout.Token);
        var frame = new byte[BinaryPrimitives.ReadInt32BigEndian(size)];
        await stream.ReadExactlyAsync(frame, timeout.Token);
        return frame;
    }

    private static void Int16(List<byte> b, short v) { b.Add((byte)(v >> 8)); b.Add((byte)v); }

    private static void Int32(List<byte> b, int v) { Int16(b, (short)(v >> 16)); Int16(b, (short)v); }

    private static void String(List<byte> b, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        Int16(b, (short)bytes.Length);
        b.AddRange(bytes);
    }
}
