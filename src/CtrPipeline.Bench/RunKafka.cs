using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

namespace CtrPipeline.Bench;

/// <summary>
/// Which Kafka the benchmark's runs use, and each run's topics on it. Without <c>--kafka</c> every run gets a fresh
/// embedded cluster (librdkafka's mock, in this process), so its topics start empty. With <c>--kafka</c> every run gets
/// fresh topics with unique names on that cluster (LogAppendTime, the run's partitions, replication min(3, brokers)),
/// and consumer groups and the exactly-once engine's state topic of its own, so runs never see each other's records,
/// offsets or checkpoints; they are deleted after the run unless <c>--keep-topics</c>.
/// </summary>
public abstract class RunKafka
{
    /// <summary>Where the run's topics go: "embedded" or "cluster".</summary>
    public abstract string Mode { get; }

    /// <summary>Makes the topics of one run; disposing the result removes them (or the whole embedded cluster).</summary>
    public abstract Task<RunTopics> OpenAsync(string runId, PipelineSettings pipeline, CancellationToken cancel);

    public static RunKafka Embedded(int brokers) => new EmbeddedRunKafka(brokers);

    private static bool IsHostAndPort(string server)
    {
        var colon = server.LastIndexOf(':');
        return colon > 0 && int.TryParse(server[(colon + 1)..], out var port) && port is > 0 and < 65536;
    }

    /// <summary>
    /// Checks that the cluster answers, takes the client's credentials and accepts CreateTopics (validated only,
    /// nothing created); a broker that does not answer or refuses is a <see cref="ConfigurationException"/>, before any run.
    /// </summary>
    public static async Task<RunKafka> ClusterAsync(KafkaConnection kafka, bool keepTopics, int partitions)
    {
        ConfigurationException.Require(!string.IsNullOrWhiteSpace(kafka.BootstrapServers), "--kafka needs the cluster's bootstrap servers, e.g. broker1:9092,broker2:9092.");
        foreach (var server in kafka.BootstrapServers.Split(',', StringSplitOptions.TrimEntries))
            ConfigurationException.Require(IsHostAndPort(server),
                $"--kafka: '{server}' is not host:port (give the cluster's bootstrap servers, e.g. broker1:9092,broker2:9092).");
        var cluster = new ClusterRunKafka(KafkaClients.Validated(kafka), keepTopics);
        await cluster.CheckAsync(partitions);
        return cluster;
    }
}

/// <summary>
/// One run's Kafka: where to connect, the pipeline settings with the run's topic names, and <see cref="Scope"/>, the
/// prefix for the run's own consumer groups and state topics (null on an embedded cluster of its own).
/// </summary>
public sealed class RunTopics(KafkaConnection kafka, PipelineSettings pipeline, string? scope, string broker, bool embedded, Func<ValueTask> remove) : IAsyncDisposable
{
    /// <summary>The cluster, with its client properties: what every client of the run connects with.</summary>
    public KafkaConnection Kafka => kafka;

    public string Bootstrap => kafka.BootstrapServers;

    public PipelineSettings Pipeline => pipeline;

    public string? Scope => scope;

    /// <summary>What the report says about the Kafka the run used.</summary>
    public string Broker => broker;

    /// <summary>librdkafka's mock cluster (in this process, or an EmbeddedKafka process given by --kafka): not Kafka.</summary>
    public bool Embedded => embedded;

    /// <summary>The four pipeline topics and their partitions, for the oracle's tap.</summary>
    public IReadOnlyDictionary<string, int> Topics => pipeline.Topics.All.ToDictionary(t => t, _ => pipeline.Partitions);

    /// <summary>The engines' output topics (all but the events topic) and their partitions.</summary>
    public IReadOnlyDictionary<string, int> OutputTopics => pipeline.Topics.All.Where(t => t != pipeline.Topics.Events).ToDictionary(t => t, _ => pipeline.Partitions);

    /// <summary>A consumer group or topic name of this run: <paramref name="name"/> itself on an embedded cluster of its own.</summary>
    public string Scoped(string name) => TopicNames.Scoped(scope, name);

    public ValueTask DisposeAsync() => remove();
}

internal sealed class EmbeddedRunKafka(int brokers) : RunKafka
{
    public override string Mode => "embedded";

    public override Task<RunTopics> OpenAsync(string runId, PipelineSettings pipeline, CancellationToken cancel)
    {
        var cluster = EmbeddedKafkaCluster.Start(brokers, pipeline.Topics.All.Select(t => (t, pipeline.Partitions)));
        return Task.FromResult(new RunTopics(new KafkaConnection(cluster.BootstrapServers), pipeline, null,
            $"embedded librdkafka mock cluster (in memory), {brokers} broker(s)", embedded: true, () =>
            {
                cluster.Dispose();
                return ValueTask.CompletedTask;
            }));
    }
}

internal sealed class ClusterRunKafka(KafkaConnection kafka, bool keepTopics) : RunKafka
{
    private readonly string bootstrap = kafka.BootstrapServers;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private int _brokers;

    /// <summary>
    /// The cluster is librdkafka's mock (an EmbeddedKafka process): its cluster id says so. Its fetch serves one batch
    /// per partition, so the load producer must linger as on the in-process embedded broker, or a consumer of many
    /// partitions gets a few records per fetch and falls behind at a low rate (docs/embedded-broker.md).
    /// </summary>
    private bool _mock;

    public override string Mode => "cluster";

    public async Task CheckAsync(int partitions)
    {
        // A refusal (credentials, TLS, permissions) ends the benchmark here, with one line.
        if (!KafkaClients.CheckAccess(kafka, Timeout))
            throw new ConfigurationException($"--kafka {kafka}: no broker answered within {Timeout.TotalSeconds:0} s." + (kafka.Properties.SecurityProtocol == "PLAINTEXT"
                ? " If the cluster requires TLS or SASL, give its client properties with --kafka-config FILE: a PLAINTEXT client sees a TLS listener only as closed connections."
                : ""));
        using var admin = Admin();
        var metadata = admin.GetMetadata(Timeout);
        _brokers = metadata.Brokers.Count;
        _mock = await ClusterIdAsync(admin) is { } id && id.StartsWith(EmbeddedBroker.MockClusterIdPrefix, StringComparison.Ordinal);
        var probe = new TopicSpecification
        {
            Name = $"ctr-probe-{Guid.NewGuid():N}",
            NumPartitions = partitions,
            ReplicationFactor = (short)Math.Min(3, _brokers),
            Configs = new Dictionary<string, string> { [TopicProvisioner.TimestampTypeConfig] = TopicProvisioner.LogAppendTime },
        };
        try
        {
            await admin.CreateTopicsAsync([probe], new CreateTopicsOptions { ValidateOnly = true, RequestTimeout = Timeout });
        }
        catch (Exception e) when (e is KafkaException or CreateTopicsException)
        {
            var reason = e is CreateTopicsException c ? c.Results[0].Error.Reason : ((KafkaException)e).Error.Reason;
            throw new ConfigurationException(
                $"--kafka {bootstrap}: the cluster refused to create the run's topics ({reason}). The benchmark creates fresh topics for every run; it needs Kafka 2.4 or later and the right to create and delete topics.");
        }
    }

    public override async Task<RunTopics> OpenAsync(string runId, PipelineSettings pipeline, CancellationToken cancel)
    {
        // Unique per run, readable in the cluster's topic list: ctr-<run id>-<8 hex>-events.
        var safe = new string(runId.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' ? ch : '-').ToArray());
        var scope = $"ctr-{safe[..Math.Min(safe.Length, 120)]}-{Guid.NewGuid().ToString("N")[..8]}";
        var run = pipeline.WithTopics(pipeline.Topics.WithPrefix(scope));
        var replication = (short)Math.Min(3, _brokers);
        using (var admin = Admin())
        {
            try
            {
                await admin.CreateTopicsAsync(run.Topics.All.Select(topic => new TopicSpecification
                {
                    Name = topic,
                    NumPartitions = run.Partitions,
                    ReplicationFactor = replication,
                    Configs = new Dictionary<string, string> { [TopicProvisioner.TimestampTypeConfig] = TopicProvisioner.LogAppendTime },
                }), new CreateTopicsOptions { RequestTimeout = Timeout, OperationTimeout = Timeout });
            }
            catch (CreateTopicsException e)
            {
                var failed = e.Results.First(r => r.Error.IsError);
                throw new WorkerFailedException($"Kafka at {bootstrap} did not create topic {failed.Topic}: {failed.Error.Reason}");
            }
        }
        var broker = string.Create(CultureInfo.InvariantCulture,
            $"{(_mock ? "librdkafka mock cluster (an EmbeddedKafka process, in memory, not Kafka)" : "Kafka cluster")} at {kafka}, {_brokers} broker(s); topics {scope}-* (replication {replication}{(keepTopics ? ", kept" : "")})");
        return new RunTopics(kafka, run, scope, broker, embedded: _mock, () => keepTopics ? ValueTask.CompletedTask : DeleteAsync(scope));
    }

    /// <summary>The cluster's id (DescribeCluster, answered from metadata); null when the cluster does not say.</summary>
    private static async Task<string?> ClusterIdAsync(IAdminClient admin)
    {
        try
        {
            return (await admin.DescribeClusterAsync(new DescribeClusterOptions { RequestTimeout = Timeout })).ClusterId;
        }
        catch (KafkaException)
        {
            return null;
        }
    }

    /// <summary>Deletes every topic of the run (the engines' state topics included); a broker that refuses is reported, not fatal.</summary>
    private async ValueTask DeleteAsync(string scope)
    {
        using var admin = Admin();
        List<string> topics = [];
        try
        {
            topics = admin.GetMetadata(Timeout).Topics.Select(t => t.Topic).Where(t => t.StartsWith(scope + "-", StringComparison.Ordinal)).ToList();
            if (topics.Count > 0) await admin.DeleteTopicsAsync(topics, new DeleteTopicsOptions { RequestTimeout = Timeout, OperationTimeout = Timeout });
        }
        catch (Exception e) when (e is KafkaException or DeleteTopicsException)
        {
            var reason = e is DeleteTopicsException d ? d.Results.First(r => r.Error.IsError).Error.Reason : ((KafkaException)e).Error.Reason;
            Console.Error.WriteLine($"warning: the run's topics on {bootstrap} were not deleted ({reason}): {string.Join(", ", topics)}");
        }
    }

    private IAdminClient Admin() => new AdminClientBuilder(KafkaClients.Admin(kafka, "ctr-bench")).SetLogHandler((_, _) => { }).Build();
}
