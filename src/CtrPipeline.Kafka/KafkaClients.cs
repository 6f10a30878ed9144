using Confluent.Kafka;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

namespace CtrPipeline.Kafka;

/// <summary>
/// Client settings every component uses, tuned once: throughput-oriented batching that still keeps
/// latency in milliseconds, and consumers that commit explicitly.
/// </summary>
public static class KafkaClients
{
    /// <summary>The connection string name the AppHost hands to every service (ConnectionStrings:kafka).</summary>
    public const string ConnectionName = "kafka";

    /// <summary>Bootstrap servers from ConnectionStrings:kafka, or a clear error telling the user what to set.</summary>
    public static string BootstrapServers(IConfiguration configuration) =>
        configuration.GetConnectionString(ConnectionName) is { Length: > 0 } servers
            ? servers
            : throw new ConfigurationException(
                "No Kafka bootstrap servers: set ConnectionStrings:kafka (environment variable ConnectionStrings__kafka), e.g. 127.0.0.1:9092, or start the pipeline through the AppHost.");

    /// <summary>How long a producer waits to fill a batch: Kafka's own default, short enough for millisecond latency.</summary>
    public static readonly TimeSpan DefaultLinger = TimeSpan.FromMilliseconds(5);

    /// <param name="linger">The batch wait, <see cref="DefaultLinger"/> unless given (the load producer's Producer:Linger).</param>
    public static ProducerConfig Producer(string bootstrapServers, string clientId, TimeSpan? linger = null) => new()
    {
        BootstrapServers = bootstrapServers,
        ClientId = clientId,
        Acks = Acks.Leader,
        LingerMs = (linger ?? DefaultLinger).TotalMilliseconds,
        BatchNumMessages = 10_000,
        QueueBufferingMaxMessages = 1_000_000,
        QueueBufferingMaxKbytes = 1_048_576,
        EnableIdempotence = false,
        // JSON compresses well; smaller batches also stretch the embedded broker's 5 MiB-per-partition memory.
        CompressionType = CompressionType.Lz4,
        SocketNagleDisable = true,
        MessageTimeoutMs = 60_000,
        // Delivery handlers read the outcome, topic, partition and offset only; copying every record's key, value,
        // headers and timestamp back into each report (the default, "all") cost the load producer a fifth of its CPU.
        DeliveryReportFields = "status",
    };

    /// <summary>
    /// A consumer that reads from the start of the topic and commits only when told to. It reads committed records
    /// only: rows of an exactly-once engine's open or aborted transaction are never seen (librdkafka's default, stated
    /// here because results readers depend on it).
    /// </summary>
    public static ConsumerConfig Consumer(string bootstrapServers, string groupId, string clientId) => new()
    {
        BootstrapServers = bootstrapServers,
        GroupId = groupId,
        ClientId = clientId,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        IsolationLevel = IsolationLevel.ReadCommitted,
        EnableAutoCommit = false,
        EnableAutoOffsetStore = false,
        FetchWaitMaxMs = 5,
        FetchMinBytes = 1,
        QueuedMinMessages = 100_000,
        // Once a partition's prefetch queue is past its threshold, librdkafka postpones that partition's next fetch by
        // this much (1 s by default), so a consumer with a backlog fetched in bursts: a bare consumer read 144,000-287,000
        // records/s from the embedded broker with the default and 580,000 with 10 ms (docs/measurements.md).
        FetchQueueBackoffMs = 10,
        SocketNagleDisable = true,
        SessionTimeoutMs = 10_000,
        HeartbeatIntervalMs = 1_000,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
    };
}
