using Confluent.Kafka;
using Confluent.Kafka.Admin;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Kafka;

/// <summary>The topics to create (explicit partitions and replication factor: brokers before 2.4 have no defaults for them) and the partition counts of those that exist.</summary>
public sealed record TopicPlan(IReadOnlyList<TopicSpecification> Missing, IReadOnlyDictionary<string, int> Existing);

/// <summary>What the provisioner found or made for one pipeline topic.</summary>
public sealed record TopicState(string Topic, int Partitions, bool Created, string? TimestampType);

/// <summary>
/// Creates the pipeline's topics on a real Kafka cluster (2.4 or later) before anything uses them: every topic
/// missing gets Pipeline:Partitions partitions, a replication factor of min(3, brokers) and
/// message.timestamp.type=LogAppendTime, so record timestamps are the broker's arrival times that L1 and L2 start
/// from. Topics that exist are left as they are, with a warning where they differ from what the pipeline expects.
/// </summary>
public static class TopicProvisioner
{
    public const string TimestampTypeConfig = "message.timestamp.type";
    public const string LogAppendTime = "LogAppendTime";

    public static async Task<IReadOnlyList<TopicState>> EnsureAsync(KafkaConnection kafka, PipelineSettings pipeline, ILogger logger)
    {
        KafkaClients.CheckAccess(kafka, TimeSpan.FromSeconds(10)); // a refusal ends the set-up; an absent broker is retried
        using var admin = new AdminClientBuilder(KafkaClients.Admin(kafka, "ctr-kafka-setup")).Build();

        var plan = Plan(admin.GetMetadata(TimeSpan.FromSeconds(10)), pipeline);
        if (plan.Missing.Count > 0)
        {
            try
            {
                await admin.CreateTopicsAsync(plan.Missing);
            }
            catch (CreateTopicsException e) when (e.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
            {
                // Another process created some of them in the meantime: they exist, which is what matters.
            }
        }

        var timestampTypes = await TimestampTypesAsync(admin, pipeline.Topics.All, logger);
        var states = pipeline.Topics.All.Select(topic => new TopicState(
            topic,
            plan.Existing.GetValueOrDefault(topic, pipeline.Partitions),
            plan.Missing.Any(m => m.Name == topic),
            timestampTypes.GetValueOrDefault(topic))).ToList();

        foreach (var state in states)
        {
            logger.LogInformation("Topic {Topic}: {Partitions} partitions, {TimestampType}{Created}",
                state.Topic, state.Partitions, state.TimestampType ?? "timestamp type unknown", state.Created ? " (created)" : "");
            if (state.TimestampType is not null && state.TimestampType != LogAppendTime)
                logger.LogWarning("Topic {Topic} keeps {TimestampType} timestamps: L1 and L2 then start from the producers' clocks, not the broker's. "
                    + "Set {Config}={LogAppendTime} on it for broker arrival times.", state.Topic, state.TimestampType, TimestampTypeConfig, LogAppendTime);
            if (state.Partitions != pipeline.Partitions)
                logger.LogWarning("Topic {Topic} has {Partitions} partitions, Pipeline:Partitions says {Expected}", state.Topic, state.Partitions, pipeline.Partitions);
        }
        return states;
    }

    /// <summary>Which pipeline topics the cluster lacks, as the specifications to create them with, and the partitions of those it has.</summary>
    public static TopicPlan Plan(Metadata metadata, PipelineSettings pipeline)
    {
        var existing = metadata.Topics.Where(t => t.Error.Code == ErrorCode.NoError).ToDictionary(t => t.Topic, t => t.Partitions.Count);
        var replication = (short)Math.Min(3, metadata.Brokers.Count);
        var missing = pipeline.Topics.All.Where(topic => !existing.ContainsKey(topic)).Select(topic => new TopicSpecification
        {
            Name = topic,
            NumPartitions = pipeline.Partitions,
            ReplicationFactor = replication,
            Configs = new Dictionary<string, string> { [TimestampTypeConfig] = LogAppendTime },
        });
        return new TopicPlan([.. missing], existing);
    }

    /// <summary>Each topic's message.timestamp.type; empty where the broker does not answer DescribeConfigs.</summary>
    private static async Task<Dictionary<string, string>> TimestampTypesAsync(IAdminClient admin, IReadOnlyList<string> topics, ILogger logger)
    {
        try
        {
            var described = await admin.DescribeConfigsAsync(topics.Select(t => new ConfigResource { Type = ResourceType.Topic, Name = t }));
            return described.Where(r => r.Entries.ContainsKey(TimestampTypeConfig))
                .ToDictionary(r => r.ConfigResource.Name, r => r.Entries[TimestampTypeConfig].Value);
        }
        catch (KafkaException e)
        {
            logger.LogWarning("Cannot read the topics' timestamp type: {Reason}", e.Message);
            return [];
        }
    }
}
