using Confluent.Kafka;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Kafka;

/// <summary>
/// The one place that builds the settings of every producer, consumer and admin client: throughput-oriented batching
/// that still keeps latency in milliseconds, consumers that commit explicitly, and the cluster's client properties
/// (security.protocol, sasl.*, ssl.*) set over them.
/// </summary>
public static class KafkaClients
{
    /// <summary>How long a producer waits to fill a batch: Kafka's own default, short enough for millisecond latency.</summary>
    public static readonly TimeSpan DefaultLinger = TimeSpan.FromMilliseconds(5);

    /// <param name="linger">The batch wait, <see cref="DefaultLinger"/> unless given (the load producer's Producer:Linger).</param>
    public static ProducerConfig Producer(KafkaConnection kafka, string clientId, TimeSpan? linger = null) => With(kafka, new ProducerConfig
    {
        BootstrapServers = kafka.BootstrapServers,
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
    });

    /// <summary>
    /// A consumer that reads from the start of the topic and commits only when told to. It reads committed records
    /// only: rows of an exactly-once engine's open or aborted transaction are never seen (librdkafka's default, stated
    /// here because results readers depend on it).
    /// </summary>
    public static ConsumerConfig Consumer(KafkaConnection kafka, string groupId, string clientId) => With(kafka, new ConsumerConfig
    {
        BootstrapServers = kafka.BootstrapServers,
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
    });

    /// <summary>An admin client's settings: topics, offsets, the cluster's description.</summary>
    public static AdminClientConfig Admin(KafkaConnection kafka, string clientId) => With(kafka, new AdminClientConfig
    {
        BootstrapServers = kafka.BootstrapServers,
        ClientId = clientId,
        SocketTimeoutMs = 10_000,
    });

    /// <summary>
    /// Checks that librdkafka takes the client properties (a misspelt name, a value it refuses, a mechanism this build
    /// lacks), before any request: a <see cref="ConfigurationException"/> naming where the properties came from.
    /// </summary>
    public static KafkaConnection Validated(KafkaConnection kafka)
    {
        if (kafka.Properties.Count == 0) return kafka;
        try
        {
            using var client = new AdminClientBuilder(Admin(kafka, "ctr-config-check")).SetLogHandler((_, _) => { }).Build();
        }
        catch (Exception e) when (e is KafkaException or ArgumentException or InvalidOperationException)
        {
            throw new ConfigurationException($"{kafka.Properties.Source}: {kafka.Properties.Mask(e.Message)}");
        }
        return kafka;
    }

    /// <summary>
    /// Asks the cluster for its metadata until it answers (true) or <paramref name="timeout"/> passes (false: the
    /// cluster may be away, which callers ride out). A refusal (authentication, TLS, permissions) throws
    /// <see cref="KafkaRefusedException"/> as soon as librdkafka reports it.
    /// </summary>
    public static bool CheckAccess(KafkaConnection kafka, TimeSpan timeout, CancellationToken cancel = default)
    {
        KafkaRefusedException? refused = null;
        using var admin = new AdminClientBuilder(Admin(kafka, "ctr-access-check"))
            .SetErrorHandler((_, e) => refused ??= KafkaRefusedException.From(e, kafka))
            .SetLogHandler((_, _) => { })
            .Build();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            try
            {
                admin.GetMetadata(TimeSpan.FromSeconds(1));
                if (refused is null) return true;
            }
            catch (KafkaException e)
            {
                refused ??= KafkaRefusedException.From(e.Error, kafka);
                // Otherwise not answered yet: the broker may be starting or away.
                if (refused is null && DateTime.UtcNow >= deadline) return false;
            }
            if (refused is not null) throw refused;
        }
    }

    /// <summary>librdkafka's own log lines, at debug level in <paramref name="logger"/> rather than on stderr.</summary>
    public static Action<IClient, LogMessage> LogTo(ILogger logger) =>
        (_, m) => logger.LogDebug("librdkafka {Facility}: {Message}", m.Facility, m.Message);

    private static T With<T>(KafkaConnection kafka, T config) where T : ClientConfig
    {
        foreach (var (name, value) in kafka.Properties) config.Set(name, value);
        return config;
    }
}
