using Confluent.Kafka;
using CtrPipeline.Contracts;

namespace Analyzer.Worker.Tests;

public sealed class LatencyRecorderTests
{
    private const long T0 = 1_700_000_000_000;

    internal static CtrResult Row(string engine, long maxEventKafkaTs, long computedAt, bool final = true) =>
        new(engine, T0, T0 + 10_000, CampaignId: 1, Views: 10, Clicks: 1, Ctr: 0.1, maxEventKafkaTs, computedAt, final);

    private static Timestamp CreateTime(long ms) => new(ms, TimestampType.CreateTime);

    [Fact]
    public void Percentiles_of_a_known_set_are_exact_in_milliseconds()
    {
        var recorder = new LatencyRecorder();
        // L1 = 1..100 ms, L2 = 3 ms, L2r = 8 ms for every row; the rows arrive in a shuffled order.
        foreach (var l1 in Enumerable.Range(1, 100).OrderBy(i => i * 37 % 101))
            recorder.Record(Row("e", T0 - l1, T0), CreateTime(T0 + 3), T0 + 8);

        var e = Assert.Single(recorder.Snapshot());
        Assert.Equal(new LatencyPercentiles(100, 50, 90, 99, 100, 100, 0), e.L1);
        Assert.Equal(new LatencyPercentiles(100, 3, 3, 3, 3, 3, 0), e.L2);
        Assert.Equal(new LatencyPercentiles(100, 8, 8, 8, 8, 8, 0), e.L2Received);
    }

    [Fact]
    public void Latencies_beyond_two_seconds_stay_within_the_histogram_precision()
    {
        var recorder = new LatencyRecorder();
        long[] latencies = [.. Enumerable.Repeat(2_500L, 5), .. Enumerable.Repeat(12_345L, 4), 2 * LatencyRecorder.HighestTrackableMs];
        foreach (var l1 in latencies)
            recorder.Record(Row("e", T0 - l1, T0), CreateTime(T0), T0);

        var l1Stats = Assert.Single(recorder.Snapshot()).L1;
        Assert.InRange(l1Stats.P50, 2_500, 2_500 * 1.001);
        Assert.InRange(l1Stats.P90, 12_345, 12_345 * 1.001);
        // Anything above an hour counts as an hour.
        Assert.InRange(l1Stats.Max, LatencyRecorder.HighestTrackableMs, LatencyRecorder.HighestTrackableMs * 1.001);
    }

    [Fact]
    public void Rows_whose_newest_event_arrived_in_the_warmup_are_counted_but_left_out_of_the_percentiles()
    {
        var recorder = new LatencyRecorder(TimeSpan.FromSeconds(15));
        // The first row's window starts at T0: the warm-up runs to T0 + 15 s. Its rows have an L1 of 20 s (start-up).
        foreach (var arrived in new[] { T0 + 1_000, T0 + 9_000, T0 + 14_999 })
            recorder.Record(Row("e", arrived, arrived + 20_000), CreateTime(arrived + 20_001), arrived + 20_002);
        foreach (var arrived in new[] { T0 + 15_000, T0 + 25_000 })
            recorder.Record(Row("e", arrived, arrived + 100), CreateTime(arrived + 101), arrived + 102);

        var e = Assert.Single(recorder.Snapshot());
        Assert.Equal((5L, 3L, T0 + 15_000), (e.Results, e.WarmupResults, e.WarmupEnd));
        Assert.Equal(new LatencyPercentiles(2, 100, 100, 100, 100, 100, 0), e.L1);
        Assert.Equal((2L, 2L), (e.L2.Count, e.L2Received.Count));
    }

    [Theory]
    [InlineData(2_000, null, T0 + 10_000)] // a warm-up shorter than a window still covers the first window
    [InlineData(0, null, null)] // no warm-up: every row counts
    [InlineData(5_000, T0 + 3_000, T0 + 13_000)] // from the load's start when it is known, at least a window
    [InlineData(30_000, T0 + 3_000, T0 + 33_000)]
    public void The_warmup_ends_a_warmup_after_the_load_started_and_never_within_its_first_window(long warmupMs, long? loadStart, long? expectedEnd)
    {
        var recorder = new LatencyRecorder(TimeSpan.FromMilliseconds(warmupMs)) { LoadStartedAt = loadStart };
        recorder.Record(Row("e", T0 + 9_999, T0 + 10_500), CreateTime(T0 + 10_500), T0 + 10_500);

        var e = Assert.Single(recorder.Snapshot());
        Assert.Equal(expectedEnd, e.WarmupEnd);
        Assert.Equal(expectedEnd is null ? 0 : 1, e.WarmupResults);
    }

    [Fact]
    public void Negative_differences_are_recorded_as_zero_and_counted_per_latency()
    {
        var recorder = new LatencyRecorder();
        // The engine's clock runs 40 ms behind the broker's: L1 < 0. The analyzer's clock is 5 ms behind the engine's.
        var measured = recorder.Record(Row("e", maxEventKafkaTs: T0 + 40, computedAt: T0), CreateTime(T0 + 2), T0 - 5);
        recorder.Record(Row("e", maxEventKafkaTs: T0 - 10, computedAt: T0), CreateTime(T0 + 2), T0 + 20);

        Assert.Equal(new RowLatency(-40, 2, -5), measured);
        var e = Assert.Single(recorder.Snapshot());
        Assert.Equal(new LatencyPercentiles(2, 0, 10, 10, 10, 10, ClampedNegative: 1), e.L1);
        Assert.Equal(new LatencyPercentiles(2, 2, 2, 2, 2, 2, ClampedNegative: 0), e.L2);
        Assert.Equal(new LatencyPercentiles(2, 0, 20, 20, 20, 20, ClampedNegative: 1), e.L2Received);
    }

    [Fact]
    public void Engines_are_measured_separately_and_listed_by_id()
    {
        var recorder = new LatencyRecorder();
        for (var i = 0; i < 3; i++)
            recorder.Record(Row(Engines.NativeMicroBatch, T0 - 1_000, T0, final: i == 0), CreateTime(T0 + 1), T0 + 2);
        recorder.Record(Row(Engines.NativeContinuous, T0 - 7, T0), CreateTime(T0 + 4), T0 + 6);

        var snapshot = recorder.Snapshot();
        Assert.Equal([Engines.NativeContinuous, Engines.NativeMicroBatch], snapshot.Select(e => e.Engine));
        var (continuous, microBatch) = (snapshot[0], snapshot[1]);
        Assert.Equal((1L, 1L, 7.0, 4.0, 6.0), (continuous.Results, continuous.FinalResults, continuous.L1.Max, continuous.L2.Max, continuous.L2Received.Max));
        Assert.Equal((3L, 1L, 1_000.0, 1.0, 2.0), (microBatch.Results, microBatch.FinalResults, microBatch.L1.P50, microBatch.L2.Max, microBatch.L2Received.Max));
        Assert.Equal(3, microBatch.L1.Count);
    }

    [Fact]
    public void Timestamp_type_is_reported_per_engine_and_rows_without_a_timestamp_stay_out_of_l2()
    {
        var recorder = new LatencyRecorder();
        recorder.Record(Row("appended", T0 - 5, T0), new Timestamp(T0 + 9, TimestampType.LogAppendTime), T0 + 10);
        recorder.Record(Row("created", T0 - 5, T0), CreateTime(T0 + 1), T0 + 10);
        recorder.Record(Row("untimed", T0 - 5, T0), new Timestamp(0, TimestampType.NotAvailable), T0 + 10);

        var byEngine = recorder.Snapshot().ToDictionary(e => e.Engine);
        Assert.Equal(TimestampType.LogAppendTime, byEngine["appended"].TimestampType);
        Assert.Equal(9, byEngine["appended"].L2.Max);
        Assert.Equal(TimestampType.CreateTime, byEngine["created"].TimestampType);
        Assert.Equal(TimestampType.NotAvailable, byEngine["untimed"].TimestampType);
        Assert.Equal(new LatencyPercentiles(0, 0, 0, 0, 0, 0, 0), byEngine["untimed"].L2);
        Assert.Equal((1L, 10.0), (byEngine["untimed"].L2Received.Count, byEngine["untimed"].L2Received.Max));
    }

    [Fact]
    public void Reset_forgets_every_engine()
    {
        var recorder = new LatencyRecorder();
        recorder.Record(Row("old", T0 - 500, T0), CreateTime(T0), T0);
        recorder.Reset();
        recorder.Record(Row("new", T0 - 3, T0), CreateTime(T0), T0);

        var e = Assert.Single(recorder.Snapshot());
        Assert.Equal(("new", 1L, 3.0), (e.Engine, e.L1.Count, e.L1.Max));
    }

    [Fact]
    public void A_row_without_an_engine_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new LatencyRecorder().Record(Row("", T0, T0), CreateTime(T0), T0));
    }
}
