using System.Text;
using CtrPipeline.Contracts;
using Xunit.Abstractions;
using static CtrPipeline.Testing.KafkaFixture;

namespace NativeEngine.Worker.Tests;

public sealed class NativeEngineRunnerTests(ITestOutputHelper output) : IDisposable
{
    private readonly KafkaFixture _kafka = new();

    [Theory]
    [InlineData(Engines.NativeContinuous, EngineOptions.ExactlyOnce)]
    [InlineData(Engines.NativeMicroBatch, EngineOptions.ExactlyOnce)]
    [InlineData(Engines.NativeContinuous, EngineOptions.AtLeastOnce)]
    public async Task Runner_publishes_final_rows_and_routes_malformed_unknown_and_late_records(string engine, string guarantee)
    {
        using var metrics = new EngineMeterCapture(engine);
        var runner = NewRunner(engine, guarantee);
        using var stop = new CancellationTokenSource();
        var running = runner.RunAsync(stop.Token);

        // Windows [0, 10 s) and [10 s, 20 s) on both partitions; nothing reaches the watermark yet.
        _kafka.Send(0, 1_000, adId: 1);
        _kafka.Send(0, 2_000, adId: 1, EventType.Click);
        _kafka.Send(0, 3_000, adId: 3);
        var malformed = Encoding.UTF8.GetBytes("{\"event_id\": 1, \"event_type\": \"scroll\"");
        _kafka.SendRaw(0, malformed, key: [1, 2, 3]);
        var unknownAd = _kafka.Send(0, 4_000, adId: 999);
        _kafka.Send(0, 11_000, adId: 1);
        _kafka.Send(1, 5_000, adId: 2);
        _kafka.Send(1, 6_000, adId: 4, EventType.Click);
        _kafka.Send(1, 10_500, adId: 4);
        await Until(() => runner.Progress.Consumed == 9, "the first 9 records");

        // Both partitions move past 22 s: the watermark (23 s) closes the first two windows.
        _kafka.Send(0, 25_000, adId: 5);
        _kafka.Send(1, 26_000, adId: 6);
        await Until(() => runner.Progress.Watermark == T0 + 23_000, "the watermark to reach 23 s");

        var late = _kafka.Send(0, 9_000, adId: 1);
        await Until(() => runner.Progress.Consumed == 12, "the late record");
        await runner.DrainAsync(CancellationToken.None).WaitAsync(WaitLimit);
        await running.WaitAsync(WaitLimit); // a drained engine stops by itself

        var results = _kafka.ReadAll(_kafka.Pipeline.Topics.Results);
        var rows = results.Select(r => WireFormat.ParseResult(r.Message.Value)).ToList();
        Assert.Equal(
            [
                (0L, 1, 2L, 1L), (0L, 2, 1L, 1L),
                (10_000L, 1, 1L, 0L), (10_000L, 2, 1L, 0L),
                (20_000L, 3, 2L, 0L),
            ],
            rows.Where(r => r.Final).Select(r => (r.WindowStart - T0, r.CampaignId, r.Views, r.Clicks)).Order());
        Assert.All(rows, r => Assert.Equal((engine, r.WindowStart + 10_000), (r.Engine, r.WindowEnd)));
        Assert.All(rows, r => Assert.InRange(r.MaxEventKafkaTs, r.ComputedAt - 30_000, r.ComputedAt));
        Assert.All(results, r => Assert.Equal(WireFormat.ParseResult(r.Message.Value).CampaignId.ToString(), Encoding.UTF8.GetString(r.Message.Key)));
        if (engine == Engines.NativeContinuous) Assert.Equal(5, rows.Count);
        else Assert.Contains(rows, r => !r.Final);

        var deadLetters = _kafka.ReadAll(_kafka.Pipeline.Topics.DeadLetters).OrderBy(r => Header(r, "error")).ToList();
        Assert.Equal([malformed, unknownAd], deadLetters.Select(r => r.Message.Value));
        Assert.Equal(new byte[] { 1, 2, 3 }, deadLetters[0].Message.Key);
        Assert.StartsWith("malformed: ", Header(deadLetters[0], "error"));
        Assert.Equal("unknown ad_id 999", Header(deadLetters[1], "error"));
        Assert.All(deadLetters, r => Assert.Equal(engine, Header(r, "engine")));

        var lateRecords = _kafka.ReadAll(_kafka.Pipeline.Topics.Late);
        Assert.Equal([late], lateRecords.Select(r => r.Message.Value));
        Assert.Equal(engine, Header(lateRecords[0], "engine"));
        Assert.Null(Header(lateRecords[0], "error"));

        var progress = runner.Progress;
        Assert.Equal((12L, 9L, 1L, 2L, rows.Count, 0L, long.MaxValue, 0),
            (progress.Consumed, progress.Accepted, progress.Late, progress.Bad, (int)progress.ResultsPublished, progress.DeliveryErrors, progress.Watermark, progress.OpenWindows));

        Assert.Equal((12L, 1L, 2L, rows.Count, 0L),
            (metrics.Total("ctr.engine.events.consumed"), metrics.Total("ctr.engine.events.late"), metrics.Total("ctr.engine.events.bad"), (int)metrics.Total("ctr.engine.results.published"),
             metrics.Total("ctr.engine.partitions.idled"))); // no partition is silent for the fixture's minute
        Assert.Equal(
            [("ctr.engine.consumer_lag", "{event}"), ("ctr.engine.events.bad", "{event}"), ("ctr.engine.events.consumed", "{event}"), ("ctr.engine.events.late", "{event}"),
             ("ctr.engine.open_windows", "{row}"), ("ctr.engine.partitions.idled", "{partition}"), ("ctr.engine.results.published", "{row}"), ("ctr.engine.watermark_delay", "ms")],
            metrics.Units.Select(u => (u.Key, u.Value)).Order());
    }

    [Fact]
    public async Task At_least_once_committed_offsets_never_pass_an_event_of_an_open_window_so_a_restart_rebuilds_it_complete()
    {
        var groupId = new EngineOptions { Id = Engines.NativeContinuous }.GroupId;
        var first = NewRunner(Engines.NativeContinuous, EngineOptions.AtLeastOnce);
        using var stopFirst = new CancellationTokenSource();
        var firstRun = first.RunAsync(stopFirst.Token);

        _kafka.Send(0, 1_000, adId: 1);  // p0 @0: [0, 10 s)
        _kafka.Send(0, 5_000, adId: 1);  // p0 @1: [0, 10 s)
        _kafka.Send(1, 2_000, adId: 2);  // p1 @0: [0, 10 s)
        _kafka.Send(1, 11_000, adId: 2); // p1 @1: [10 s, 20 s)
        await Until(() => first.Progress.Consumed == 4, "4 records");
        await Until(() => _kafka.Committed(groupId).Values.All(o => o == 0), "offset 0 to be committed on both partitions");
        await Task.Delay(300); // a few more commit intervals: the offsets must stay where the open window starts
        Assert.Equal(new Dictionary<int, long> { [0] = 0, [1] = 0 }, _kafka.Committed(groupId));

        _kafka.Send(0, 13_000, adId: 1); // p0 @2: [10 s, 20 s)
        _kafka.Send(1, 14_000, adId: 1); // p1 @2: the watermark reaches 11 s, [0, 10 s) is final
        await Until(() => first.Progress.Watermark == T0 + 11_000, "the watermark to reach 11 s");
        await Until(() => _kafka.Committed(groupId) is { } c && c[0] == 2 && c[1] == 1, "the offsets of the first records of [10 s, 20 s)");

        await stopFirst.CancelAsync();
        await firstRun.WaitAsync(WaitLimit);
        Assert.Equal(new Dictionary<int, long> { [0] = 2, [1] = 1 }, _kafka.Committed(groupId)); // a clean stop commits no further

        var second = NewRunner(Engines.NativeContinuous, EngineOptions.AtLeastOnce);
        var secondRun = second.RunAsync(CancellationToken.None);
        await Until(() => second.Progress.Consumed == 3, "the restarted engine to replay [10 s, 20 s)");
        await second.DrainAsync(CancellationToken.None).WaitAsync(WaitLimit);
        await secondRun.WaitAsync(WaitLimit);

        var rows = _kafka.ReadAll(_kafka.Pipeline.Topics.Results).Select(r => WireFormat.ParseResult(r.Message.Value));
        Assert.Equal([(0L, 3L), (10_000L, 3L)], rows.Select(r => (r.WindowStart - T0, r.Views)).Order());
        Assert.Equal(new Dictionary<int, long> { [0] = 3, [1] = 3 }, _kafka.Committed(groupId));
    }

    private NativeEngineRunner NewRunner(string engine, string guarantee = EngineOptions.ExactlyOnce) =>
        new(new EngineOptions { Id = engine, Guarantee = guarantee, CommitInterval = TimeSpan.FromMilliseconds(50) }, _kafka.Pipeline, Catalog, new KafkaConnection(_kafka.Bootstrap), new TestOutputLogger(output));

    public void Dispose() => _kafka.Dispose();
}
