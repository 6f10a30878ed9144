using CtrPipeline.Contracts;
using CtrPipeline.Streaming;

namespace CtrPipeline.Streaming.Tests;

public sealed class CtrEngineTests
{
    [Fact]
    public void Continuous_mode_emits_each_window_once_and_only_after_the_watermark_passes_its_end()
    {
        var h = new EngineHarness(ExecutionMode.Continuous);
        h.Send(1_000, adId: 1, kafkaTs: 500);
        h.Send(2_000, adId: 2, type: EventType.Click, kafkaTs: 700);
        h.Send(5_000, adId: 3, kafkaTs: 600);
        h.Send(11_000, adId: 1); // watermark 9 000: window [0, 10 000) stays open
        Assert.Empty(h.Output);
        Assert.Empty(h.Tick());

        h.Now += 50;
        h.Send(12_000, adId: 1); // watermark 10 000 reaches the window's end

        Assert.Equal(
            [
                new CtrResult(Engines.NativeContinuous, 0, 10_000, 1, 1, 1, 1.0, 700, h.Now, true),
                new CtrResult(Engines.NativeContinuous, 0, 10_000, 2, 1, 0, 0.0, 600, h.Now, true),
            ],
            h.Output);
        Assert.Equal(10_000, h.Engine.Watermark);
        Assert.Equal(1, h.Engine.OpenWindows); // [10 000, 20 000) x campaign 1

        h.Send(13_000, adId: 3);
        h.Send(14_000, adId: 1);
        Assert.Empty(h.Tick());
        Assert.Equal(2, h.Output.Count);
    }

    [Fact]
    public void A_record_whose_window_is_already_final_is_late_and_changes_nothing()
    {
        var h = new EngineHarness(ExecutionMode.Continuous);
        h.Send(1_000);
        h.Send(12_000); // closes [0, 10 000)
        var emitted = h.Output.Count;

        Assert.Equal(RecordOutcome.Late, h.Send(9_999));
        Assert.Equal(RecordOutcome.Accepted, h.Send(10_000)); // its window ends at 20 000, after the watermark
        Assert.Equal(emitted, h.Output.Count);
        Assert.Equal((3L, 1L), (h.Engine.Accepted, h.Engine.Late));
    }

    [Fact]
    public void An_unknown_ad_is_reported_but_still_moves_the_watermark()
    {
        var h = new EngineHarness(ExecutionMode.Continuous);
        h.Send(1_000);
        Assert.Equal(RecordOutcome.UnknownAd, h.Send(30_000, adId: EngineHarness.UnknownAd));

        Assert.Equal((1L, 1L), (h.Engine.Accepted, h.Engine.UnknownAds));
        Assert.Equal(28_000, h.Engine.Watermark);
        Assert.Single(h.Output);
    }

    [Theory]
    [InlineData(ExecutionMode.Continuous)]
    [InlineData(ExecutionMode.MicroBatch)]
    public void An_event_time_far_ahead_of_the_clock_or_not_positive_is_out_of_range_and_never_moves_the_watermark(ExecutionMode mode)
    {
        var h = new EngineHarness(mode);
        var skew = (long)h.Settings.MaxEventTimeSkew.TotalMilliseconds;
        h.Now = 100_000;
        h.Send(1_000, partition: 0, offset: 0);
        h.Send(1_500, partition: 1, offset: 0);
        h.Tick();

        Assert.Equal(RecordOutcome.OutOfRange, h.Send(7_258_118_400_000, partition: 0, offset: 1)); // the year 2200
        Assert.Equal(RecordOutcome.OutOfRange, h.Send(h.Now + skew + 1, partition: 1, offset: 1));
        Assert.Equal(RecordOutcome.OutOfRange, h.Send(0, partition: 0, offset: 2));
        Assert.Equal(RecordOutcome.OutOfRange, h.Send(-20_000, partition: 1, offset: 2));
        h.Tick();
        Assert.Equal(-1_000, h.Engine.Watermark);
        Assert.DoesNotContain(h.Output, r => r.Final);
        Assert.Equal(RecordOutcome.Accepted, h.Send(2_000, partition: 0, offset: 3)); // nothing was closed by them

        Assert.Equal(RecordOutcome.Accepted, h.Send(h.Now + skew, partition: 0, offset: 4)); // at the limit: in range
        Assert.Equal((4L, 4L, 0L), (h.Engine.OutOfRange, h.Engine.Accepted, h.Engine.Late));
        Assert.Equal(new Dictionary<int, long> { [0] = 0, [1] = 0 }, h.Engine.SafeCommitOffsets());
        h.Drain();
        Assert.Equal(new Dictionary<int, long> { [0] = 5, [1] = 3 }, h.Engine.SafeCommitOffsets()); // past the dead-lettered ones
    }

    [Fact]
    public void An_idle_partition_releases_the_watermark_on_a_tick_after_the_idle_timeout()
    {
        var h = new EngineHarness(ExecutionMode.Continuous);
        h.Send(1_000, partition: 0);
        h.Send(1_000, partition: 1);
        h.Now += 1_000;
        h.Send(15_000, partition: 0); // partition 1 still holds the watermark at -1 000
        Assert.Empty(h.Output);

        h.Now += 3_999; // partition 1 silent for 4 999 ms
        Assert.Empty(h.Tick());
        h.Now += 1;
        var rows = h.Tick();

        Assert.Equal(13_000, h.Engine.Watermark);
        Assert.Equal([(0L, 1, 2L)], rows.Select(r => (r.WindowStart, r.CampaignId, r.Views)));
    }

    [Fact]
    public void After_an_assignment_the_first_partition_to_deliver_does_not_close_windows_the_others_still_hold()
    {
        var h = new EngineHarness(ExecutionMode.Continuous);
        h.Engine.Assign([0, 1]);
        h.Send(1_000, partition: 0);
        h.Send(25_000, partition: 0); // a restart: partition 0's backlog comes first
        Assert.Empty(h.Output);
        Assert.Equal(long.MinValue, h.Engine.Watermark);

        Assert.Equal(RecordOutcome.Accepted, h.Send(2_000, partition: 1)); // not late: [0, 10 000) is still open
        h.Send(25_000, partition: 1);
        Assert.Equal([(0L, 1, 2L)], h.Output.Select(r => (r.WindowStart, r.CampaignId, r.Views)));
    }

    [Fact]
    public void An_assigned_partition_that_never_delivers_releases_the_watermark_after_the_idle_timeout()
    {
        var h = new EngineHarness(ExecutionMode.Continuous);
        h.Engine.Assign([0, 1]);
        h.Send(1_000, partition: 0);
        h.Now += 4_999;
        h.Send(15_000, partition: 0);
        Assert.Empty(h.Output);

        h.Now += 1;
        Assert.Equal([(0L, 1, 1L)], h.Tick().Select(r => (r.WindowStart, r.CampaignId, r.Views)));
        Assert.Equal(13_000, h.Engine.Watermark);
    }

    [Fact]
    public void A_revoked_partition_stops_holding_the_engines_watermark_back()
    {
        var h = new EngineHarness(ExecutionMode.Continuous);
        h.Engine.Assign([0, 1]);
        h.Send(15_000, partition: 0);
        h.Engine.Revoke([1]);

        h.Tick();
        Assert.Equal(13_000, h.Engine.Watermark);
    }

    [Fact]
    public void Micro_batch_emits_changed_rows_on_each_trigger_and_a_final_row_when_the_watermark_passes()
    {
        var h = new EngineHarness(ExecutionMode.MicroBatch);
        h.Send(1_000, adId: 1);
        h.Send(2_000, adId: 3);
        h.Send(25_000, adId: 1); // would close [0, 10 000) in continuous mode; micro-batch waits for its trigger
        Assert.Empty(h.Output);
        Assert.Equal(long.MinValue, h.Engine.Watermark);

        h.Send(3_000, adId: 2, type: EventType.Click); // judged by the previous trigger's watermark: accepted
        var first = h.Tick();

        Assert.Equal(
            [(20_000L, 1, 1L, 0L, false), (0L, 1, 1L, 1L, true), (0L, 2, 1L, 0L, true)],
            first.Select(r => (r.WindowStart, r.CampaignId, r.Views, r.Clicks, r.Final)));
        Assert.All(first, r => Assert.Equal((Engines.NativeMicroBatch, h.Now), (r.Engine, r.ComputedAt)));
        Assert.Equal(23_000, h.Engine.Watermark);

        Assert.Empty(h.Tick()); // nothing changed
        Assert.Equal(RecordOutcome.Late, h.Send(4_000));

        h.Send(26_000, adId: 1, type: EventType.Click);
        h.Send(27_000, adId: 5);
        var second = h.Tick();

        Assert.Equal(
            [(20_000L, 1, 1L, 1L, false), (20_000L, 3, 1L, 0L, false)],
            second.Select(r => (r.WindowStart, r.CampaignId, r.Views, r.Clicks, r.Final)));
    }

    [Theory]
    [InlineData(ExecutionMode.Continuous)]
    [InlineData(ExecutionMode.MicroBatch)]
    public void Drain_finalizes_every_open_window_and_makes_everything_after_it_late(ExecutionMode mode)
    {
        var h = new EngineHarness(mode);
        h.Send(1_000, adId: 1);
        h.Send(15_000, adId: 3);
        h.Send(16_000, adId: 4, type: EventType.Click);
        h.Tick();

        var drained = h.Drain();

        Assert.Equal([(10_000L, 2, 1L, 1L, true)], drained.Select(r => (r.WindowStart, r.CampaignId, r.Views, r.Clicks, r.Final)));
        Assert.Equal(2, h.Output.Count(r => r.Final));
        Assert.Equal(0, h.Engine.OpenWindows);
        Assert.Equal(long.MaxValue, h.Engine.Watermark);
        Assert.Equal(RecordOutcome.Late, h.Send(100_000));
        Assert.Empty(h.Drain());
    }

    [Fact]
    public void Safe_commit_offsets_stop_at_the_first_record_of_a_window_that_is_not_final()
    {
        var h = new EngineHarness(ExecutionMode.Continuous);
        Assert.Empty(h.Engine.SafeCommitOffsets());

        h.Send(1_000, partition: 0, offset: 10);  // [0, 10 000)
        h.Send(11_000, partition: 0, offset: 11); // [10 000, 20 000)
        h.Send(12_000, partition: 1, offset: 5);  // [10 000, 20 000)
        Assert.Equal(new Dictionary<int, long> { [0] = 10, [1] = 5 }, h.Engine.SafeCommitOffsets());

        h.Send(13_000, partition: 0, offset: 12);
        h.Send(13_000, partition: 1, offset: 6); // watermark 11 000: [0, 10 000) is final
        h.Send(14_000, adId: EngineHarness.UnknownAd, partition: 0, offset: 13);
        Assert.Equal(new Dictionary<int, long> { [0] = 11, [1] = 5 }, h.Engine.SafeCommitOffsets());

        h.Drain();
        h.Engine.Skip(partition: 1, offset: 7); // e.g. a malformed record the host dead-lettered
        Assert.Equal(new Dictionary<int, long> { [0] = 14, [1] = 8 }, h.Engine.SafeCommitOffsets());
    }

    [Theory]
    [InlineData(ExecutionMode.Continuous)]
    [InlineData(ExecutionMode.MicroBatch)]
    public void Final_windows_are_evicted_so_state_stays_bounded_over_many_windows(ExecutionMode mode)
    {
        var h = new EngineHarness(mode, new PipelineSettings { WindowSize = TimeSpan.FromSeconds(1), WatermarkDelay = TimeSpan.FromMilliseconds(500) });
        const int windows = 2_000, perWindow = 50;
        var maxState = 0;
        for (var w = 0; w < windows; w++)
        {
            for (var i = 0; i < perWindow; i++)
            {
                h.Send(w * 1_000L + i * 20 + 1, adId: i % 6 + 1, partition: i % 2); // + 1: event time 0 is out of range
                maxState = Math.Max(maxState, h.Engine.OpenWindows);
            }
            h.Now += 1_000;
            h.Tick();
        }
        h.Drain();

        Assert.InRange(maxState, 3, 2 * 3); // at most the current and the previous window, 3 campaigns each
        Assert.Equal(0, h.Engine.OpenWindows);
        var finals = h.Output.Where(r => r.Final).ToList();
        Assert.Equal(windows * 3, finals.Count);
        Assert.Equal(windows * perWindow, finals.Sum(r => r.Views));
    }
}
