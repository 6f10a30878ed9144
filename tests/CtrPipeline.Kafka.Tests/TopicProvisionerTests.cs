using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

namespace CtrPipeline.Kafka.Tests;

/// <summary>
/// The topic set-up of containers mode and external clusters, planned from a broker's real metadata (the embedded
/// broker's, over TCP). Creating the topics needs a cluster controller, which librdkafka's mock does not have: the
/// CreateTopics call itself runs only against a real Kafka.
/// </summary>
public sealed class TopicProvisionerTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(4, 3)]
    public void Plans_the_missing_topics_with_log_append_time_and_keeps_those_that_exist(int brokers, short replication)
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokers, [("events", 2)]);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var pipeline = new PipelineSettings { Partitions = 3 };

        var plan = TopicProvisioner.Plan(admin.GetMetadata(TimeSpan.FromSeconds(10)), pipeline);

        Assert.Equal(2, plan.Existing["events"]);
        Assert.Equal(["ctr_results", "events_dlq", "events_late"], plan.Missing.Select(t => t.Name).Order());
        Assert.All(plan.Missing, topic =>
        {
            Assert.Equal(3, topic.NumPartitions);
            Assert.Equal(replication, topic.ReplicationFactor);
            Assert.Equal("LogAppendTime", topic.Configs["message.timestamp.type"]);
        });
    }

    [Fact]
    public void Plans_nothing_when_every_topic_exists()
    {
        var pipeline = new PipelineSettings();
        using var cluster = EmbeddedKafkaCluster.Start(1, pipeline.Topics.All.Select(t => (t, pipeline.Partitions)));
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();

        var plan = TopicProvisioner.Plan(admin.GetMetadata(TimeSpan.FromSeconds(10)), pipeline);

        Assert.Empty(plan.Missing);
        Assert.Equal(pipeline.Topics.All.Order(), plan.Existing.Keys.Where(pipeline.Topics.All.Contains).Order());
    }
}
