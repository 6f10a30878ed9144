using CtrPipeline.Contracts;
using CtrPipeline.Streaming;
using static CtrPipeline.Testing.KafkaFixture;

namespace CtrPipeline.Testing;

/// <summary>
/// How a real Kafka cluster delivers a backlog, reproduced on the mock: partition 1 of the events topic is led by a
/// broker whose every answer takes <see cref="SlowBrokerRtt"/>, longer than the idle timeout, while partition 0's
/// broker answers at once. So partition 1 stays silent for seconds while the broker holds its records, as a partition
/// does on a real cluster whose fetches return a few partitions' chunks at a time or whose leader is slow. An engine
/// that took it for idle would close windows with partition 0's events only: short final rows, and partition 1's
/// events counted late.
/// </summary>
internal static class SlowPartitionScenario
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(3);

    public const int SlowBrokerRtt = 8_000;

    private const int SlowPartition = 1;

    /// <summary>
    /// Two brokers; everything is led by broker 1 except events partition 1, led by broker 2 (slow when asked).
    /// <paramref name="extraTopics"/>: topics of one partition the engine uses besides the pipeline's (its state topic).
    /// </summary>
    public static KafkaFixture NewFixture(params string[] extraTopics)
    {
        var kafka = new KafkaFixture(brokers: 2, idleTimeout: IdleTimeout, extraTopics: extraTopics);
        foreach (var topic in extraTopics) kafka.Cluster.SetPartitionLeader(topic, 0, 1);
        foreach (var topic in kafka.Pipeline.Topics.All)
            for (var p = 0; p < kafka.Pipeline.Partitions; p++)
                kafka.Cluster.SetPartitionLeader(topic, p, topic == kafka.Pipeline.Topics.Events && p == SlowPartition ? 2 : 1);
        return kafka;
    }

    /// <summary>
    /// Three windows on both partitions. The engine starts and joins; <paramref name="atStart"/>: it has read nothing
    /// yet (no position on either partition); else it first reads a window from both. Then the slow broker turns slow,
    /// the slow partition's events go in (the broker holds them; the engine's fetches of them take seconds), and then
    /// partition 0's, which the engine reads at once. Every final row must hold both partitions' events, none late.
    /// </summary>
    public static async Task Run(KafkaFixture kafka, Func<IEngineRunner> newRunner, bool atStart, string[] coordinatorKeys)
    {
        foreach (var key in coordinatorKeys) kafka.Cluster.SetCoordinator(key, 1, key.EndsWith("-results", StringComparison.Ordinal) ? "transaction" : "group");
        // Partition 0: ad 1 (campaign 1); the slow partition 1: ad 3 (campaign 2). One event a second each.
        IEnumerable<(int, long, int)> Events(int partition, long from, long to) =>
            Enumerable.Range(0, (int)((to - from) / 1_000)).Select(i => (partition, from + i * 1_000L + partition * 500, partition == 0 ? 1 : 3));

        var runner = newRunner();
        var running = runner.RunAsync(CancellationToken.None);
        await runner.Assigned.WaitAsync(TimeSpan.FromSeconds(60));
        // A few triggers while every broker is fast: the engine's metadata questions (the partition count) are answered,
        // so what follows depends only on the slow partition's fetches.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var from = 0L;
        if (!atStart)
        {
            kafka.SendMany([.. Events(0, 0, 10_000), .. Events(SlowPartition, 0, 10_000)]);
            await Until(() => runner.Progress.Consumed == 20, "the first window from both partitions");
            from = 10_000;
        }
        kafka.Cluster.SetBrokerRtt(2, SlowBrokerRtt);
        // The slow broker stores its records at once (only its answers wait): while the engine's fetches of them take
        // seconds, partition 0's arrive at once.
        kafka.SendMany([.. Events(SlowPartition, from, 30_000), .. Events(0, from, 30_000)], TimeSpan.FromSeconds(30));
        await Until(() => runner.Progress.Consumed == 60, "every event, the slow partition's included", TimeSpan.FromSeconds(60));
        await runner.DrainAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        await running.WaitAsync(TimeSpan.FromSeconds(60));
        kafka.Cluster.SetBrokerRtt(2, 0);

        var finals = kafka.ReadAll(kafka.Pipeline.Topics.Results).Select(r => WireFormat.ParseResult(r.Message.Value)).Where(r => r.Final);
        Assert.Equal(
            [(0L, 1, 10L), (0L, 2, 10L), (10_000L, 1, 10L), (10_000L, 2, 10L), (20_000L, 1, 10L), (20_000L, 2, 10L)],
            finals.Select(r => (r.WindowStart - T0, r.CampaignId, r.Views)).Order());
        Assert.Equal(0, runner.Progress.Late);
        Assert.Empty(kafka.ReadAll(kafka.Pipeline.Topics.Late));
    }
}
