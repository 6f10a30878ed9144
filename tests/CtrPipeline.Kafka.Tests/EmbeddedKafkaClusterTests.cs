using CtrPipeline.Contracts;
using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using CtrPipeline.Kafka;
using Xunit.Abstractions;

namespace CtrPipeline.Kafka.Tests;

public sealed class EmbeddedKafkaClusterTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void Real_clients_produce_and_consume_over_tcp_with_create_time_timestamps()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 4)]);
        Assert.Matches(@"^127\.0\.0\.1:\d+$", cluster.BootstrapServers);
        const int count = 10_000;
        var value = new byte[150];

        var clock = Stopwatch.StartNew();
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using (var producer = new ProducerBuilder<string, byte[]>(KafkaClients.Producer(new KafkaConnection(cluster.BootstrapServers), "test")).Build())
        {
            for (var i = 0; i < count; i++)
                producer.Produce(new TopicPartition("events", i % 4), new Message<string, byte[]> { Key = i.ToString(), Value = value });
            Assert.Equal(0, producer.Flush(Timeout));
        }
        var produced = clock.Elapsed;
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var seen = new HashSet<string>();
        using (var consumer = new ConsumerBuilder<string, byte[]>(KafkaClients.Consumer(new KafkaConnection(cluster.BootstrapServers), "g", "test")).Build())
        {
            consumer.Subscribe("events");
            var deadline = Stopwatch.StartNew();
            while (seen.Count < count && deadline.Elapsed < Timeout)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not { } r) continue;
                Assert.Equal(int.Parse(r.Message.Key) % 4, r.Partition.Value);
                Assert.Equal(150, r.Message.Value.Length);
                Assert.Equal(TimestampType.CreateTime, r.Message.Timestamp.Type);
                Assert.InRange(r.Message.Timestamp.UnixTimestampMs, before, after);
                seen.Add(r.Message.Key);
            }
        }
        output.WriteLine($"produced {count} in {produced.TotalMilliseconds:0} ms; produce+consume {count / clock.Elapsed.TotalSeconds:N0} records/s");
        Assert.Equal(count, seen.Count);
    }
}
