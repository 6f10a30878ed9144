using System.Buffers.Binary;
using System.Net.Sockets;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using static CtrPipeline.Kafka.Tests.RawKafkaFrames;

namespace CtrPipeline.Kafka.Tests;

/// <summary>
/// The Kafka handshake the Java client starts every connection with, replayed byte for byte against librdkafka's mock
/// and against the proxy that stands in front of it (see docs/embedded-broker.md).
/// </summary>
public sealed class BrokerProxyTests
{
    /// <summary>
    /// ApiVersions v3 exactly as Apache Kafka's Java client 2.4.1 sent it (captured on loopback): flexible request
    /// header v2, client id "adminclient-1", ClientSoftwareName "apache-kafka-java", ClientSoftwareVersion "unknown".
    /// </summary>
    private static readonly byte[] JavaApiVersionsV3 = Convert.FromHexString(
        "000000330012000300000000000d61646d696e636c69656e742d3100126170616368652d6b61666b612d6a61766108756e6b6e6f776e00");

    [Fact]
    public async Task The_mocks_own_answer_to_ApiVersions_v3_reads_as_a_20_minute_throttle()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 1)]);
        var response = await Exchange(cluster.Listeners[1], JavaApiVersionsV3);

        // Error 35 (UNSUPPORTED_VERSION), then the ApiKeys count as one byte, [ApiVersions 0-2], throttle 0: neither
        // v0's layout (4-byte count) nor v3's (count + 1, a tag byte per entry). Read as v3, which the Java client does
        // first, the count byte 01 is an empty array and the next four bytes 00 12 00 00 the throttle time. Should a
        // newer librdkafka answer correctly, this fails: then BrokerProxy's handshake and the docs' paragraph can go.
        Assert.Equal("00000000" + "0023" + "01" + "001200000002" + "00000000", Convert.ToHexString(response));
        Assert.Equal(1_179_648, BinaryPrimitives.ReadInt32BigEndian(response.AsSpan(7)));
    }

    [Fact]
    public async Task The_proxy_answers_a_newer_ApiVersions_request_as_Kafka_does_and_the_client_retries_with_v2()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 1)]);
        await using var proxy = new BrokerProxy(0, cluster.Listeners[1]);
        using var connection = new TcpClient();
        await connection.ConnectAsync("127.0.0.1", proxy.Port);
        var stream = connection.GetStream();

        // KIP-511: a v0 response, error UNSUPPORTED_VERSION, and the versions of ApiVersions the broker takes.
        var refused = await Exchange(stream, JavaApiVersionsV3);
        Assert.Equal("00000000" + "0023" + "00000001" + "001200000002", Convert.ToHexString(refused));

        // The retry reaches the mock, which answers it in full, on the same connection.
        var versions = ParseApiVersionsV2(await Exchange(stream, ApiVersionsV2));
        Assert.Equal((0, 2), versions[18]);
        Assert.True(versions[3].Max >= 9, "Metadata v9, the newest the Java client 2.4 sends");

        // The group APIs advertise only the versions the mock parses (EmbeddedKafkaCluster).
        Assert.Equal((0, 5), versions[11]); // JoinGroup
        Assert.Equal((0, 3), versions[14]); // SyncGroup
        Assert.Equal((0, 2), versions[13]); // LeaveGroup
        Assert.False(versions.ContainsKey(16), "the mock now implements ListGroups: update docs/embedded-broker.md");
    }

    [Fact]
    public async Task Librdkafka_clients_work_with_every_connection_through_the_proxy()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 2)]);
        await using (var proxy = new BrokerProxy(0, cluster.Listeners[1]))
        {
            cluster.Advertise(1, "127.0.0.1", proxy.Port);
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = proxy.Address }).Build();
            var broker = Assert.Single(admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers);
            Assert.Equal(proxy.Port, broker.Port);

            using (var producer = new ProducerBuilder<string, string>(KafkaClients.Producer(new KafkaConnection(proxy.Address), "test")).Build())
            {
                for (var i = 0; i < 100; i++) producer.Produce("events", new Message<string, string> { Key = $"k{i}", Value = $"v{i}" });
                Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
            }
            using var consumer = new ConsumerBuilder<string, string>(KafkaClients.Consumer(new KafkaConnection(proxy.Address), "through-proxy", "test")).Build();
            consumer.Subscribe("events");
            var seen = new HashSet<string>();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (seen.Count < 100 && clock.Elapsed < TimeSpan.FromSeconds(30))
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } r)
                {
                    seen.Add(r.Message.Value);
                    consumer.StoreOffset(r);
                }
            Assert.Equal(100, seen.Count);
            consumer.Commit();
            Assert.Equal(100, consumer.Committed(TimeSpan.FromSeconds(10)).Sum(o => o.Offset.Value));
        }
    }
}
