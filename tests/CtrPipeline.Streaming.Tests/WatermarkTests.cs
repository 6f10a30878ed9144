using CtrPipeline.Streaming;

namespace CtrPipeline.Streaming.Tests;

public sealed class WatermarkTests
{
    private readonly WatermarkTracker _tracker = new(delayMs: 2_000, idleTimeoutMs: 5_000);

    [Theory]
    [InlineData(0, 10_000, 0)]
    [InlineData(9_999, 10_000, 0)]
    [InlineData(10_000, 10_000, 10_000)]
    [InlineData(1_700_000_012_345, 1_000, 1_700_000_012_000)]
    [InlineData(-1, 10_000, -10_000)]
    [InlineData(-10_000, 10_000, -10_000)]
    [InlineData(-10_001, 10_000, -20_000)]
    [InlineData(-25_000, 10_000, -30_000)]
    public void Window_start_is_the_floor_of_event_time_to_the_window_size(long eventTime, long windowMs, long expectedStart) =>
        Assert.Equal(expectedStart, CtrEngine.WindowStart(eventTime, windowMs));

    [Fact]
    public void Watermark_is_minus_infinity_before_any_record()
    {
        Assert.Equal(long.MinValue, _tracker.Current);
        Assert.Equal(long.MinValue, _tracker.Advance(now: 0));
    }

    [Fact]
    public void Watermark_is_the_minimum_over_partitions_of_their_newest_event_time_minus_the_delay()
    {
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        _tracker.Observe(partition: 1, eventTime: 15_000, now: 0);
        _tracker.Observe(partition: 1, eventTime: 12_000, now: 0); // out of order: the partition's maximum stays
        Assert.Equal(13_000, _tracker.Advance(now: 1));

        _tracker.Observe(partition: 1, eventTime: 30_000, now: 2);
        Assert.Equal(18_000, _tracker.Advance(now: 2));
    }

    [Fact]
    public void Watermark_never_goes_backwards_when_a_slower_partition_appears()
    {
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        Assert.Equal(18_000, _tracker.Advance(now: 0));

        _tracker.Observe(partition: 3, eventTime: 1_000, now: 1);
        Assert.Equal(18_000, _tracker.Advance(now: 1));
    }

    [Fact]
    public void A_silent_partition_stops_holding_the_watermark_back_after_the_idle_timeout()
    {
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        _tracker.Observe(partition: 1, eventTime: 10_000, now: 0);
        _tracker.Observe(partition: 0, eventTime: 25_000, now: 4_000);
        Assert.Equal(8_000, _tracker.Advance(now: 4_999));

        Assert.Equal(23_000, _tracker.Advance(now: 5_000));
    }

    [Fact]
    public void Watermark_stays_put_when_every_partition_is_idle()
    {
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        Assert.Equal(18_000, _tracker.Advance(now: 0));
        Assert.Equal(18_000, _tracker.Advance(now: 60_000));
    }

    [Fact]
    public void Finish_moves_the_watermark_to_plus_infinity()
    {
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        _tracker.Finish();
        Assert.Equal(long.MaxValue, _tracker.Advance(now: 1));
    }
    [Fact]
    public void An_assigned_partition_that_has_not_delivered_holds_the_watermark_back()
    {
        _tracker.Assign([0, 1], now: 0);
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 100);
        Assert.Equal(long.MinValue, _tracker.Advance(now: 100)); // partition 1 may still hold events of any window

        _tracker.Observe(partition: 1, eventTime: 15_000, now: 200);
        Assert.Equal(13_000, _tracker.Advance(now: 200));
    }

    [Fact]
    public void An_assigned_partition_that_never_delivers_stops_holding_back_after_the_idle_timeout_since_its_assignment()
    {
        _tracker.Assign([0, 1], now: 0);
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 1_000);
        Assert.Equal(long.MinValue, _tracker.Advance(now: 4_999));

        Assert.Equal(18_000, _tracker.Advance(now: 5_000));
    }

    [Fact]
    public void Assigning_a_partition_again_keeps_what_it_delivered()
    {
        _tracker.Assign([0], now: 0);
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        _tracker.Assign([0, 1], now: 1_000); // e.g. an eager rebalance hands out the whole set again
        _tracker.Observe(partition: 1, eventTime: 30_000, now: 1_000);

        Assert.Equal(18_000, _tracker.Advance(now: 1_000));
    }

    [Fact]
    public void A_partition_assigned_again_after_it_went_idle_holds_the_watermark_back_until_it_delivers_or_idles_again()
    {
        _tracker.Assign([0, 1], now: 0);
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        _tracker.Observe(partition: 1, eventTime: 20_000, now: 0);
        Assert.Equal(18_000, _tracker.Advance(now: 0));

        // The broker was away for 30 s; the group lost and re-assigned both partitions. Partition 0 delivers first.
        _tracker.Assign([0, 1], now: 30_000);
        _tracker.Observe(partition: 0, eventTime: 60_000, now: 30_100);
        Assert.Equal(18_000, _tracker.Advance(now: 30_100)); // partition 1 may hold a backlog from 20 s on

        _tracker.Observe(partition: 1, eventTime: 25_000, now: 30_200);
        Assert.Equal(23_000, _tracker.Advance(now: 30_200));
        _tracker.Observe(partition: 0, eventTime: 65_000, now: 35_000);
        Assert.Equal(63_000, _tracker.Advance(now: 35_200)); // partition 1 silent for the idle timeout
    }

    [Fact]
    public void After_every_partition_was_silent_the_first_to_deliver_waits_for_the_others()
    {
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        _tracker.Observe(partition: 1, eventTime: 20_000, now: 0);
        Assert.Equal(18_000, _tracker.Advance(now: 0));

        // The broker was away for 8 s (under the session timeout: nothing re-assigned). Partition 0 delivers first.
        _tracker.Observe(partition: 0, eventTime: 40_000, now: 8_000);
        Assert.Equal(18_000, _tracker.Advance(now: 8_000)); // partition 1's backlog may hold events from 20 s on

        _tracker.Observe(partition: 1, eventTime: 35_000, now: 8_100);
        Assert.Equal(33_000, _tracker.Advance(now: 8_100));
    }

    [Fact]
    public void A_partition_silent_while_the_others_deliver_still_goes_idle()
    {
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        _tracker.Observe(partition: 1, eventTime: 20_000, now: 0);
        for (var t = 1_000; t <= 6_000; t += 1_000) _tracker.Observe(partition: 0, eventTime: 20_000 + t, now: t);

        Assert.Equal(24_000, _tracker.Advance(now: 6_000));
    }

    [Fact]
    public void A_silent_partition_with_a_backlog_on_the_broker_is_stalled_not_idle()
    {
        var backlog = new HashSet<int> { 1 };
        var asked = 0;
        var tracker = new WatermarkTracker(delayMs: 2_000, idleTimeoutMs: 5_000, hasBacklog: p => { asked++; return backlog.Contains(p); });
        tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        tracker.Observe(partition: 1, eventTime: 20_000, now: 0);
        for (var t = 1_000; t <= 8_000; t += 1_000) tracker.Observe(partition: 0, eventTime: 20_000 + t, now: t);
        Assert.Equal(18_000, tracker.Advance(now: 8_000)); // partition 1's fetches stalled: its records are still to come

        backlog.Clear(); // read to its end: idle, which the tracker learns when it next asks
        for (var i = 0; i < 1_000; i++) Assert.Equal(18_000, tracker.Advance(now: 8_000 + WatermarkTracker.BacklogCheckIntervalMs - 1));
        Assert.Equal(1, asked); // once per interval, not once per call: a continuous engine advances per record
        Assert.Equal(26_000, tracker.Advance(now: 8_000 + WatermarkTracker.BacklogCheckIntervalMs));
        Assert.Equal(2, asked);
    }

    [Fact]
    public void A_revoked_partition_stops_holding_the_watermark_back()
    {
        _tracker.Assign([0, 1], now: 0);
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        _tracker.Revoke([1]);

        Assert.Equal(18_000, _tracker.Advance(now: 1));
    }

    [Fact]
    public void Without_an_assignment_partitions_join_with_their_first_record()
    {
        _tracker.Observe(partition: 0, eventTime: 20_000, now: 0);
        Assert.Equal(18_000, _tracker.Advance(now: 0)); // partition 1 is unknown and holds nothing back
    }
}
