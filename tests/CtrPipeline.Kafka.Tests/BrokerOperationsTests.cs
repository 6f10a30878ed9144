using CtrPipeline.Contracts;
using System.Diagnostics;
using Confluent.Kafka;

namespace CtrPipeline.Kafka.Tests;

/// <summary>Reset, the fixed bootstrap port, and the fault-injection hooks, each through real clients.</summary>
public sealed class BrokerOperationsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static void Produce(string bootstrap, string topic, int count, int partitions = 2)
    {
        using var producer = new ProducerBuilder<string, string>(KafkaClients.Producer(new KafkaConnection(bootstrap), "test")).Build();
        for (var i = 0; i < count; i++) producer.Produce(new TopicPartition(topic, i % partitions), new Message<string, string> { Key = $"{i}", Value = $"v{i}" });
        Assert.Equal(0, producer.Flush(Timeout));
    }

    private static List<string> ConsumeAll(string bootstrap, string topic, string group, int expected)
    {
        using var consumer = new ConsumerBuilder<string, string>(KafkaClients.Consumer(new KafkaConnection(bootstrap), group, "test")).Build();
        consumer.Subscribe(topic);
        var values = new List<string>();
        var clock = Stopwatch.StartNew();
        void Take(ConsumeResult<string, string> r)
        {
            values.Add(r.Message.Value);
            consumer.StoreOffset(r);
        }
        while (values.Count < expected && clock.Elapsed < Timeout)
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } r) Take(r);
        // Linger briefly: anything beyond what was expected is a bug too.
        if (consumer.Consume(TimeSpan.FromMilliseconds(300)) is { } extra) Take(extra);
        if (values.Count > 0) consumer.Commit();
        return values;
    }

    [Fact]
    public void Reset_empties_every_topic_and_producing_and_consuming_go_on_afterwards()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 2), ("ctr_results", 2)]);
        Produce(cluster.BootstrapServers, "events", 100);
        Produce(cluster.BootstrapServers, "ctr_results", 10);
        Assert.Equal(100, ConsumeAll(cluster.BootstrapServers, "events", "g", 100).Count);

        var removed = cluster.ResetTopics();
        Assert.Equal(100, removed["events"]);
        Assert.Equal(10, removed["ctr_results"]);
        Assert.All(cluster.Offsets(), o => Assert.Equal(o.High, o.Low));

        // A new consumer group finds nothing old; the existing group continues with only the new records.
        Assert.Empty(ConsumeAll(cluster.BootstrapServers, "ctr_results", "fresh", 0));
        Produce(cluster.BootstrapServers, "events", 20);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"v{i}").Order(), ConsumeAll(cluster.BootstrapServers, "events", "g", 20).Order());
    }

    [Fact]
    public async Task Clients_bootstrap_through_the_fixed_port_proxy()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 2)]);
        await using var proxy = new BrokerProxy(0, cluster.BootstrapServers.Split(',')[0]);
        Assert.NotEqual(0, proxy.Port);
        Produce(proxy.Address, "events", 30);
        Assert.Equal(30, ConsumeAll(proxy.Address, "events", "g", 30).Count);
    }

    [Fact]
    public void Records_sent_while_the_broker_is_down_are_delivered_once_it_is_back()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 2)]);
        Produce(cluster.BootstrapServers, "events", 10); // connected and warmed up

        cluster.SetBrokerDown(1);
        var delivered = 0;
        var errors = new List<string>();
        using (var producer = new ProducerBuilder<string, string>(KafkaClients.Producer(new KafkaConnection(cluster.BootstrapServers), "test")).Build())
        {
            for (var i = 0; i < 50; i++)
                producer.Produce(new TopicPartition("events", i % 2), new Message<string, string> { Key = $"{i}", Value = $"down{i}" },
                    r => { if (r.Error.IsError) lock (errors) errors.Add(r.Error.Reason); else Interlocked.Increment(ref delivered); });
            producer.Flush(TimeSpan.FromSeconds(2));
            Assert.Equal(0, Volatile.Read(ref delivered)); // nothing can be acknowledged while the broker is down

            cluster.SetBrokerUp(1);
            Assert.Equal(0, producer.Flush(Timeout));
        }
        Assert.Empty(errors);
        Assert.Equal(50, delivered);
        Assert.Equal(60, cluster.Offsets().Sum(o => o.High - o.Low));
    }

    [Fact]
    public void Injected_produce_errors_are_retried_by_the_client()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 1)]);
        Produce(cluster.BootstrapServers, "events", 1);
        const short produceApi = 0;
        cluster.PushRequestErrors(produceApi, ErrorCode.NotLeaderForPartition, ErrorCode.RequestTimedOut);
        Produce(cluster.BootstrapServers, "events", 5, partitions: 1);
        Assert.Equal(6, cluster.Offsets().Single().High);
    }
}
