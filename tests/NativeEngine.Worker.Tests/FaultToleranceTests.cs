using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Xunit.Abstractions;
using static CtrPipeline.Testing.KafkaFixture;

namespace NativeEngine.Worker.Tests;

/// <summary>A crash, a rebalance and a second instance, each against the embedded broker with real clients.</summary>
public sealed class FaultToleranceTests(ITestOutputHelper output) : IDisposable
{
    private readonly KafkaFixture _kafka = new();

    /// <summary>
    /// The replay after a crash re-reads, from the first record of the oldest open window, a record of a window that
    /// was already final (it came late but within the watermark delay) and a record that was sent to events_late.
    /// Neither may count again nor go to events_late again. The crash comes between transactions: the embedded broker
    /// shows an open transaction's records to read_committed readers and never aborts it (see
    /// EmbeddedKafkaTransactionTests), so a crash inside one can only be judged on a real Kafka.
    /// </summary>
    [Fact]
    public async Task Exactly_once_after_a_crash_every_window_has_one_complete_final_row_and_nothing_goes_late_twice()
    {
        var options = Options(EngineOptions.ExactlyOnce);
        var first = NewRunner(options);
        var firstRun = first.RunAsync(CancellationToken.None);

        _kafka.Send(0, 1_000, adId: 1);  // p0 @0: [0, 10 s) campaign 1
        _kafka.Send(0, 12_000, adId: 1); // p0 @1: [10 s, 20 s): p0's safe offset from now on
        _kafka.Send(0, 9_800, adId: 1);  // p0 @2: [0, 10 s), not late yet (the watermark is 9 s at most)
        _kafka.Send(1, 2_000, adId: 3);  // p1 @0: [0, 10 s) campaign 2
        _kafka.Send(1, 11_000, adId: 3); // p1 @1: [10 s, 20 s)
        await Until(() => first.Progress.Consumed == 5, "5 records");
        _kafka.Send(1, 15_000, adId: 3); // p1 @2: the watermark reaches 10 s: [0, 10 s) is final
        await Until(() => first.Progress.Watermark == T0 + 10_000, "the watermark to reach 10 s");
        var late = _kafka.Send(0, 9_900, adId: 1); // p0 @3: late
        // Dead letters behind p1's safe offset, replayed after the crash: each must be dead-lettered once.
        var malformed = Encoding.UTF8.GetBytes("{\"event_id\": 7");
        _kafka.SendRaw(1, malformed, key: [7]);                    // p1 @3
        var unknownAd = _kafka.Send(1, 16_000, adId: 999);         // p1 @4
        var outOfRange = _kafka.Send(1, -T0, adId: 3);             // p1 @5: event time 0
        await Until(() => Checkpoint(options) is { } c && c.Positions.GetValueOrDefault(0) == 4 && c.Positions.GetValueOrDefault(1) == 6,
            "a checkpoint covering every record");
        Assert.Equal(new Dictionary<int, long> { [0] = 1, [1] = 1 }, Checkpoint(options)!.Offsets);

        first.SimulateCrash();
        await firstRun.WaitAsync(WaitLimit);

        var second = NewRunner(options);
        var secondRun = second.RunAsync(CancellationToken.None);
        _kafka.Send(0, 21_000, adId: 1);
        _kafka.Send(1, 22_000, adId: 3);
        await Until(() => second.Progress.Consumed == 10, "the replay of p0 @1-3 and p1 @1-5, and the two new records");
        await second.DrainAsync(CancellationToken.None).WaitAsync(WaitLimit);
        await secondRun.WaitAsync(WaitLimit);

        var finals = FinalRows();
        Assert.Equal([(0L, 1, 2L), (0L, 2, 1L), (10_000L, 1, 1L), (10_000L, 2, 2L), (20_000L, 1, 1L), (20_000L, 2, 1L)], finals);
        Assert.Equal([late], _kafka.ReadAll(_kafka.Pipeline.Topics.Late).Select(r => r.Message.Value));
        Assert.Equal(0, second.Progress.Late);
        Assert.Equal(
            new[] { malformed, unknownAd, outOfRange }.Select(Encoding.UTF8.GetString).Order(),
            _kafka.ReadAll(_kafka.Pipeline.Topics.DeadLetters).Select(r => Encoding.UTF8.GetString(r.Message.Value)).Order());
        Assert.Equal(0, second.Progress.Bad);
    }

    /// <summary>A consumer joins the engine's group for a moment and takes partitions: the engine drops its state and rebuilds it.</summary>
    // Exactly-once is not in this theory: under CI load the embedded broker's group coordinator once kept the
    // stranger's partition from the engine for 36 s after the stranger left, then took the other one too, so the
    // engine could not rebuild in time (docs/engines/native.md). The faults command's broker-outage and
    // second-instance scenarios run the exactly-once engine through forced rebalances as a process, and pass.
    [Theory]
    [InlineData(EngineOptions.AtLeastOnce)]
    public async Task A_rebalance_counts_nothing_twice(string guarantee)
    {
        var options = Options(guarantee);
        var runner = NewRunner(options);
        var run = runner.RunAsync(CancellationToken.None);
        await runner.Assigned.WaitAsync(WaitLimit);

        _kafka.Send(0, 1_000, adId: 1);
        _kafka.Send(0, 12_000, adId: 1);
        _kafka.Send(0, 9_800, adId: 1);
        _kafka.Send(1, 2_000, adId: 3);
        _kafka.Send(1, 11_000, adId: 3);
        _kafka.Send(1, 15_000, adId: 3); // [0, 10 s) final
        await Until(() => runner.Progress.Consumed == 6, "6 records");
        await Task.Delay(200); // a few commit intervals

        using (var stranger = new ConsumerBuilder<byte[], byte[]>(KafkaClients.Consumer(new KafkaConnection(_kafka.Bootstrap), options.GroupId, "stranger")).Build())
        {
            stranger.Subscribe(_kafka.Pipeline.Topics.Events);
            var deadline = DateTime.UtcNow + RebalanceLimit;
            while (stranger.Assignment.Count == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the stranger never got a partition");
                stranger.Consume(TimeSpan.FromMilliseconds(50));
            }
            // Stay a few heartbeats, so the cooperative rebalance's second round is over before the stranger leaves:
            // librdkafka's mock coordinator, handed a LeaveGroup in the middle of one, once kept the departed member's
            // partition from the engine for over a minute (docs/engines/native.md).
            var settled = DateTime.UtcNow + TimeSpan.FromSeconds(3);
            while (DateTime.UtcNow < settled) stranger.Consume(TimeSpan.FromMilliseconds(50));
            stranger.Close();
        }
        _kafka.Send(0, 13_000, adId: 1);
        _kafka.Send(0, 21_000, adId: 1);
        _kafka.Send(1, 22_000, adId: 3);
        await Until(() => runner.Progress.Watermark >= T0 + 19_000, "the rebuilt engine to pass 19 s", RebalanceLimit);
        await runner.DrainAsync(CancellationToken.None).WaitAsync(WaitLimit);
        await run.WaitAsync(WaitLimit);

        Assert.Equal([(0L, 1, 2L), (0L, 2, 1L), (10_000L, 1, 2L), (10_000L, 2, 2L), (20_000L, 1, 1L), (20_000L, 2, 1L)], FinalRows());
        Assert.Empty(_kafka.ReadAll(_kafka.Pipeline.Topics.Late));
    }

    /// <summary>A second instance in the group gets part of the partitions: it stops with the single-instance line, the first carries on.</summary>
    [Fact]
    public async Task A_second_instance_is_refused_and_publishes_nothing()
    {
        var options = Options(EngineOptions.ExactlyOnce);
        var first = NewRunner(options);
        var firstRun = first.RunAsync(CancellationToken.None);
        await first.Assigned.WaitAsync(WaitLimit);
        _kafka.Send(0, 1_000, adId: 1);
        _kafka.Send(1, 2_000, adId: 3);
        await Until(() => first.Progress.Consumed == 2, "2 records");

        var second = NewRunner(options);
        var refused = await Assert.ThrowsAsync<WorkerFailedException>(() => second.RunAsync(CancellationToken.None).WaitAsync(RebalanceLimit));
        output.WriteLine(refused.Message);
        Assert.Contains("Native engines are single-instance", refused.Message);
        Assert.Contains("use Flink or Spark", refused.Message);
        Assert.Equal(0, second.Progress.ResultsPublished);

        _kafka.Send(0, 12_000, adId: 1);
        _kafka.Send(1, 13_000, adId: 3);
        await Until(() => first.Progress.Watermark == T0 + 10_000, "the first instance, whole again, to reach 10 s", RebalanceLimit);
        await first.DrainAsync(CancellationToken.None).WaitAsync(WaitLimit);
        await firstRun.WaitAsync(WaitLimit);
        Assert.Equal([(0L, 1, 1L), (0L, 2, 1L), (10_000L, 1, 1L), (10_000L, 2, 1L)], FinalRows());
    }

    private static EngineOptions Options(string guarantee) => new()
    {
        Id = Engines.NativeContinuous,
        Guarantee = guarantee,
        CommitInterval = TimeSpan.FromMilliseconds(50),
        PartialAssignmentTimeout = TimeSpan.FromSeconds(3),
    };

    private NativeEngineRunner NewRunner(EngineOptions options) =>
        new(options, _kafka.Pipeline, Catalog, new KafkaConnection(_kafka.Bootstrap), new TestOutputLogger(output));

    private EngineCheckpoint? Checkpoint(EngineOptions options) =>
        CheckpointStore.ReadLatest(new KafkaConnection(_kafka.Bootstrap), options.StateTopic, options.TransactionalId, options.GroupId);

    /// <summary>(window start in the run, campaign, views) of every final row, in order: a duplicate shows as a repeated entry.</summary>
    private List<(long, int, long)> FinalRows() =>
        [.. _kafka.ReadAll(_kafka.Pipeline.Topics.Results)
            .Select(r => WireFormat.ParseResult(r.Message.Value))
            .Where(r => r.Final)
            .Select(r => (r.WindowStart - T0, r.CampaignId, r.Views))
            .Order()];

    public void Dispose() => _kafka.Dispose();
}
