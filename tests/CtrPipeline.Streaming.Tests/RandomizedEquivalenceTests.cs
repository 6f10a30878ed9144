using CtrPipeline.Contracts;
using CtrPipeline.Streaming;

namespace CtrPipeline.Streaming.Tests;

/// <summary>
/// Random out-of-order streams whose disorder stays within the watermark delay: nothing may be late, and the engine's
/// final rows must equal a naive group-by over all the events.
/// </summary>
public sealed class RandomizedEquivalenceTests
{
    private const long WindowMs = 1_000;
    private const long DelayMs = 300;

    [Theory]
    [InlineData(ExecutionMode.Continuous, 1)]
    [InlineData(ExecutionMode.Continuous, 2)]
    [InlineData(ExecutionMode.Continuous, 3)]
    [InlineData(ExecutionMode.MicroBatch, 1)]
    [InlineData(ExecutionMode.MicroBatch, 2)]
    [InlineData(ExecutionMode.MicroBatch, 3)]
    public void Final_rows_equal_a_naive_recomputation_when_disorder_is_within_the_watermark_delay(ExecutionMode mode, int seed)
    {
        var random = new Random(seed);
        var h = new EngineHarness(mode, new PipelineSettings
        {
            WindowSize = TimeSpan.FromMilliseconds(WindowMs),
            WatermarkDelay = TimeSpan.FromMilliseconds(DelayMs),
            IdleTimeout = TimeSpan.FromSeconds(5),
            MaxEventTimeSkew = TimeSpan.FromHours(1), // event time runs ahead of the hand-driven clock here
        })
        {
            Now = 1_700_000_000_000,
        };
        var partitions = random.Next(1, 5);
        var offsets = new long[partitions];
        var expected = new Dictionary<(long Start, int Campaign), (long Views, long Clicks, long MaxKafkaTs)>();
        var eventTime = h.Now + random.NextInt64(-50_000, 50_000);

        for (var i = 0; i < 20_000; i++)
        {
            eventTime += random.Next(0, 30);
            h.Now += random.Next(0, 5);
            var time = eventTime - random.NextInt64(0, DelayMs + 1); // at most DelayMs behind anything sent before
            var adId = random.Next(20) == 0 ? EngineHarness.UnknownAd : random.Next(1, 7);
            var type = random.Next(5) == 0 ? EventType.Click : EventType.View;
            var partition = random.Next(partitions);
            var kafkaTs = h.Now - random.Next(0, 50);

            var outcome = h.Send(time, adId, type, partition, offsets[partition]++, kafkaTs);

            if (EngineHarness.Catalog.TryGetCampaign(adId, out var campaign))
            {
                Assert.Equal(RecordOutcome.Accepted, outcome);
                var key = (CtrEngine.WindowStart(time, WindowMs), campaign);
                var (views, clicks, maxTs) = expected.GetValueOrDefault(key, (0, 0, long.MinValue));
                expected[key] = type == EventType.Click ? (views, clicks + 1, Math.Max(maxTs, kafkaTs)) : (views + 1, clicks, Math.Max(maxTs, kafkaTs));
            }
            else
            {
                Assert.Equal(RecordOutcome.UnknownAd, outcome);
            }
            if (random.Next(100) == 0) h.Tick();
        }
        h.Drain();

        Assert.Equal(0, h.Engine.Late);
        var finals = h.Output.Where(r => r.Final).ToList();
        Assert.Equal(finals.Count, finals.Select(r => (r.WindowStart, r.CampaignId)).Distinct().Count());
        Assert.Equal(
            expected.OrderBy(e => e.Key).Select(e => (e.Key.Start, e.Key.Start + WindowMs, e.Key.Campaign, e.Value.Views, e.Value.Clicks, e.Value.MaxKafkaTs)),
            finals.OrderBy(r => (r.WindowStart, r.CampaignId)).Select(r => (r.WindowStart, r.WindowEnd, r.CampaignId, r.Views, r.Clicks, r.MaxEventKafkaTs)));
        AssertUpdatesLeadMonotonicallyToTheFinalRow(mode, h.Output);
    }

    /// <summary>Update rows (micro-batch only) grow monotonically and all come before their window's final row.</summary>
    private static void AssertUpdatesLeadMonotonicallyToTheFinalRow(ExecutionMode mode, List<CtrResult> output)
    {
        if (mode == ExecutionMode.Continuous) Assert.DoesNotContain(output, r => !r.Final);
        else Assert.Contains(output, r => !r.Final);

        foreach (var rows in output.GroupBy(r => (r.WindowStart, r.CampaignId)))
        {
            var ordered = rows.ToList();
            Assert.True(ordered[^1].Final);
            for (var i = 1; i < ordered.Count; i++)
            {
                Assert.False(ordered[i - 1].Final);
                Assert.True(ordered[i].Views >= ordered[i - 1].Views && ordered[i].Clicks >= ordered[i - 1].Clicks);
                Assert.True(ordered[i].Views + ordered[i].Clicks > ordered[i - 1].Views + ordered[i - 1].Clicks || ordered[i].Final);
            }
        }
    }
}
