using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using CtrPipeline.Kafka;

namespace CtrPipeline.Bench.Verification;

/// <summary>Whether a cluster keeps a run's events until the oracle reads them after the load, and why.</summary>
public sealed record RetentionVerdict(bool Keeps, string Reason);

/// <summary>
/// Decides, before the load, whether the events topic will still hold every event of the run when the oracle reads it
/// after the load: from the topic's effective configuration (DescribeConfigs, the broker's defaults included) and the
/// planned volume. Kafka deletes by <c>retention.bytes</c> (per partition) and <c>retention.ms</c>, and a compacted
/// topic keeps only the newest record per key (every event of an ad shares its key), so the run is kept only when the
/// policy is delete alone and both limits are above the plan.
/// </summary>
public static class RunRetention
{
    /// <summary>
    /// The log bytes planned per event: its JSON value is about 100 bytes and its key 1-3, a batch adds a share of its
    /// header; 256 leaves room for larger ids and for compression that does not help.
    /// </summary>
    public const int PlannedBytesPerEvent = 256;

    /// <summary>How long after the load starts the read may still come: the load, the catch-up and the drain, with room.</summary>
    public static TimeSpan KeptFor(TimeSpan duration, TimeSpan catchUpTimeout) => duration + 2 * catchUpTimeout + TimeSpan.FromMinutes(10);

    public static double PlannedBytesPerPartition(double rate, TimeSpan duration, int partitions) =>
        rate * duration.TotalSeconds * PlannedBytesPerEvent / partitions;

    /// <summary>The verdict for a topic configured as <paramref name="config"/> (name to value).</summary>
    public static RetentionVerdict Judge(IReadOnlyDictionary<string, string> config, double plannedBytesPerPartition, TimeSpan keptFor)
    {
        var policy = config.GetValueOrDefault("cleanup.policy", "delete");
        if (policy.Contains("compact", StringComparison.Ordinal))
            return new(false, $"cleanup.policy={policy}: compaction keeps one record per key");
        if (Limit(config, "retention.bytes") is { } bytes && bytes < plannedBytesPerPartition)
            return new(false, string.Create(CultureInfo.InvariantCulture,
                $"retention.bytes={bytes} per partition is below the run's planned {plannedBytesPerPartition / 1e6:0.#} MB per partition"));
        if (Limit(config, "retention.ms") is { } ms && ms < keptFor.TotalMilliseconds)
            return new(false, string.Create(CultureInfo.InvariantCulture,
                $"retention.ms={ms} is shorter than the {keptFor.TotalMinutes:0} min the run's events must be kept"));
        return new(true, string.Create(CultureInfo.InvariantCulture,
            $"cleanup.policy={policy}, retention.bytes={config.GetValueOrDefault("retention.bytes", "-1")}, retention.ms={config.GetValueOrDefault("retention.ms", "-1")} keep the run"));
    }

    /// <summary>A limit in the configuration; null for none (absent, or -1: unlimited).</summary>
    private static long? Limit(IReadOnlyDictionary<string, string> config, string name) =>
        config.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0 ? value : null;

    /// <summary>Asks the cluster for <paramref name="topic"/>'s configuration and judges it; a cluster that does not answer does not keep the run.</summary>
    public static async Task<RetentionVerdict> CheckAsync(RunTopics kafka, string topic, double plannedBytesPerPartition, TimeSpan keptFor)
    {
        using var admin = new AdminClientBuilder(KafkaClients.Admin(kafka.Kafka, "ctr-bench-retention")).SetLogHandler((_, _) => { }).Build();
        try
        {
            var described = await admin.DescribeConfigsAsync([new ConfigResource { Type = ResourceType.Topic, Name = topic }],
                new DescribeConfigsOptions { RequestTimeout = TimeSpan.FromSeconds(15) });
            var config = described[0].Entries.ToDictionary(e => e.Key, e => e.Value.Value ?? "");
            return Judge(config, plannedBytesPerPartition, keptFor);
        }
        catch (Exception e) when (e is KafkaException or DescribeConfigsException)
        {
            return new(false, $"the cluster did not report the topic's retention ({e.Message})");
        }
    }
}
