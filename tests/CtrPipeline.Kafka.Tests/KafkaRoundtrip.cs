using System.Diagnostics;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using CtrPipeline.Contracts;

namespace CtrPipeline.Kafka.Tests;

/// <summary>A client's whole round through a broker: what every secured-listener test runs once connected.</summary>
internal static class KafkaRoundtrip
{
    public static T With<T>(T config, IReadOnlyDictionary<string, string> settings) where T : ClientConfig
    {
        foreach (var (key, value) in settings) config.Set(key, value);
        return config;
    }

    /// <summary>
    /// Metadata (it names <paramref name="brokerPorts"/>), CreateTopics, produce to it and to "events", and consume
    /// both in a group with a commit, with the pipeline's own clients (<see cref="KafkaClients"/>) given
    /// <paramref name="client"/> as the cluster's client properties.
    /// </summary>
    public static void Roundtrip(string bootstrap, IEnumerable<int> brokerPorts, Dictionary<string, string> client)
    {
        var kafka = new KafkaConnection(bootstrap, KafkaClientProperties.From(client, "the test's client properties"));
        using (var admin = new AdminClientBuilder(KafkaClients.Admin(kafka, "test")).Build())
        {
            var brokers = admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers;
            Assert.Equal(brokerPorts.Order(), brokers.Select(b => b.Port).Order());
            var creation = admin.CreateTopicsAsync([new TopicSpecification { Name = "created", NumPartitions = 1, ReplicationFactor = 1 }]);
            Assert.True(creation.Wait(TimeSpan.FromSeconds(10)), "CreateTopics took over 10 s");
        }

        const int records = 40;
        using (var producer = new ProducerBuilder<string, string>(KafkaClients.Producer(kafka, "test")).Build())
        {
            for (var i = 0; i < records; i++) producer.Produce(i % 2 == 0 ? "events" : "created", new Message<string, string> { Key = $"k{i}", Value = $"v{i}" });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
        }
        using var consumer = new ConsumerBuilder<string, string>(KafkaClients.Consumer(kafka, "secured", "test")).Build();
        consumer.Subscribe(["events", "created"]);
        var seen = new HashSet<string>();
        var clock = Stopwatch.StartNew();
        while (seen.Count < records && clock.Elapsed < TimeSpan.FromSeconds(30))
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } r)
            {
                seen.Add(r.Message.Value);
                consumer.StoreOffset(r);
            }
        Assert.Equal(records, seen.Count);
        consumer.Commit();
        Assert.Equal(records, consumer.Committed(TimeSpan.FromSeconds(10)).Sum(o => o.Offset.Value));
    }
}
