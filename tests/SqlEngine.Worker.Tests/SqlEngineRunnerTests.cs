using System.Text;
using CtrPipeline.Contracts;
using Xunit.Abstractions;
using static CtrPipeline.Testing.KafkaFixture;

namespace SqlEngine.Worker.Tests;

/// <summary>The SQL engine against a real (embedded) Kafka broker and a real database, SQLite or PostgreSQL.</summary>
public sealed class SqlEngineRunnerTests(ITestOutputHelper output) : IDisposable
{
    private readonly KafkaFixture _kafka = new();

    [Fact]
    public Task Sqlite_publishes_final_rows_and_routes_malformed_unknown_and_late_records() =>
        Publishes_final_rows_and_routes_malformed_unknown_and_late_records(TestDatabase.Sqlite());

    [PostgresFact]
    public Task Postgres_publishes_final_rows_and_routes_malformed_unknown_and_late_records() =>
        Publishes_final_rows_and_routes_malformed_unknown_and_late_records(TestDatabase.Postgres());

    [Fact]
    public Task Sqlite_restart_resumes_from_the_database_and_committed_offsets() => Restart_resumes_from_the_database_and_committed_offsets(TestDatabase.Sqlite());

    [PostgresFact]
    public Task Postgres_restart_resumes_from_the_database_and_committed_offsets() => Restart_resumes_from_the_database_and_committed_offsets(TestDatabase.Postgres());

    [Fact]
    public Task Sqlite_a_run_on_new_topics_counts_the_events_that_reuse_an_earlier_runs_offsets() =>
        A_run_on_new_topics_counts_the_events_that_reuse_an_earlier_runs_offsets(TestDatabase.Sqlite());

    [PostgresFact]
    public Task Postgres_a_run_on_new_topics_counts_the_events_that_reuse_an_earlier_runs_offsets() =>
        A_run_on_new_topics_counts_the_events_that_reuse_an_earlier_runs_offsets(TestDatabase.Postgres());

    /// <summary>
    /// A run's database may hold an earlier run's rows (an engine pointed at a database another run used): the new
    /// run's topics start at offset 0 again, so its events sit at the partitions and offsets of old rows. Each is
    /// counted, in its own topic's windows, and none is taken for a replay.
    /// </summary>
    private async Task A_run_on_new_topics_counts_the_events_that_reuse_an_earlier_runs_offsets(TestDatabase test)
    {
        await using var _ = test;
        using (var stop = new CancellationTokenSource())
        {
            var earlier = NewRunner(test);
            var running = earlier.RunAsync(stop.Token);
            await earlier.Assigned.WaitAsync(WaitLimit);
            for (var t = 0L; t < 30_000; t += 1_000) _kafka.Send(0, t, adId: 1);
            for (var t = 0L; t < 30_000; t += 1_000) _kafka.Send(1, t, adId: 3);
            await Until(() => earlier.Progress.ResultsPublished == 4, "the earlier run's first two windows");
            await stop.CancelAsync(); // its events of [20 s, 30 s) stay in the database, unpublished
            await running.WaitAsync(WaitLimit);
        }

        using var next = new KafkaFixture(topicPrefix: "next-run");
        var runner = new SqlEngineRunner(test.Options, test.Target, next.Pipeline, Catalog, new KafkaConnection(next.Bootstrap), new TestOutputLogger(output));
        var again = runner.RunAsync(CancellationToken.None);
        await runner.Assigned.WaitAsync(WaitLimit);
        for (var t = 0L; t < 20_000; t += 1_000) next.Send(0, t, adId: 5); // offsets 0-19 on both partitions, as the earlier run's
        for (var t = 0L; t < 20_000; t += 1_000) next.Send(1, t, adId: 6, EventType.Click);
        await Until(() => runner.Progress.Consumed == 40, "the new run's events");
        await runner.DrainAsync(CancellationToken.None).WaitAsync(WaitLimit);
        await again.WaitAsync(WaitLimit);

        var rows = next.ReadAll(next.Pipeline.Topics.Results).Select(r => WireFormat.ParseResult(r.Message.Value));
        Assert.Equal([(0L, 3, 10L, 10L), (10_000L, 3, 10L, 10L)], rows.Select(r => (r.WindowStart - T0, r.CampaignId, r.Views, r.Clicks)).Order());
        Assert.Equal((0, 0), (runner.Progress.Late, runner.Progress.Bad));
    }

    private async Task Publishes_final_rows_and_routes_malformed_unknown_and_late_records(TestDatabase test)
    {
        await using var _ = test;
        var runner = NewRunner(test);
        using var stop = new CancellationTokenSource();
        var running = runner.RunAsync(stop.Token);
        await runner.Assigned.WaitAsync(WaitLimit);

        // Windows [0, 10 s) and [10 s, 20 s) on both partitions; the watermark closes nothing yet.
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
        Assert.Equal(0, runner.Progress.ResultsPublished);

        // Both partitions move past 22 s: the watermark (23 s) closes the first two windows at the next aggregation.
        _kafka.Send(0, 25_000, adId: 5);
        _kafka.Send(1, 26_000, adId: 6);
        await Until(() => runner.Progress.ResultsPublished == 4, "the rows of the two closed windows");

        var late = _kafka.Send(0, 9_000, adId: 1);
        await Until(() => runner.Progress.Consumed == 12, "the late record");
        await runner.DrainAsync(CancellationToken.None).WaitAsync(WaitLimit);
        await running.WaitAsync(WaitLimit);

        var results = _kafka.ReadAll(_kafka.Pipeline.Topics.Results);
        var rows = results.Select(r => WireFormat.ParseResult(r.Message.Value)).ToList();
        Assert.Equal(
            [
                (0L, 1, 2L, 1L), (0L, 2, 1L, 1L),
                (10_000L, 1, 1L, 0L), (10_000L, 2, 1L, 0L),
                (20_000L, 3, 2L, 0L),
            ],
            rows.Select(r => (r.WindowStart - T0, r.CampaignId, r.Views, r.Clicks)).Order());
        Assert.All(rows, r => Assert.Equal((Engines.Sql, r.WindowStart + 10_000, true), (r.Engine, r.WindowEnd, r.Final)));
        Assert.All(rows, r => Assert.InRange(r.MaxEventKafkaTs, r.ComputedAt - 30_000, r.ComputedAt));
        Assert.Equal(0.5, rows.Single(r => r.WindowStart == T0 && r.CampaignId == 1).Ctr, 6);
        Assert.All(results, r => Assert.Equal(WireFormat.ParseResult(r.Message.Value).CampaignId.ToString(), Encoding.UTF8.GetString(r.Message.Key)));

        var deadLetters = _kafka.ReadAll(_kafka.Pipeline.Topics.DeadLetters).OrderBy(r => Header(r, "error")).ToList();
        Assert.Equal([malformed, unknownAd], deadLetters.Select(r => r.Message.Value));
        Assert.StartsWith("malformed: ", Header(deadLetters[0], "error"));
        Assert.Equal("unknown ad_id 999", Header(deadLetters[1], "error"));
        Assert.All(deadLetters, r => Assert.Equal(Engines.Sql, Header(r, "engine")));

        var lateRecords = _kafka.ReadAll(_kafka.Pipeline.Topics.Late);
        Assert.Equal([late], lateRecords.Select(r => r.Message.Value));
        Assert.Equal(Engines.Sql, Header(lateRecords[0], "engine"));

        var progress = runner.Progress;
        Assert.Equal((12L, 9L, 1L, 2L, 5L, 0L, long.MaxValue, 0),
            (progress.Consumed, progress.Accepted, progress.Late, progress.Bad, progress.ResultsPublished, progress.DeliveryErrors, progress.Watermark, progress.OpenWindows));
        Assert.Equal(new Dictionary<int, long> { [0] = 8, [1] = 4 }, _kafka.Committed(test.Options.GroupId));
    }

    private async Task Restart_resumes_from_the_database_and_committed_offsets(TestDatabase test)
    {
        await using var _ = test;
        using (var stop = new CancellationTokenSource())
        {
            var first = NewRunner(test);
            var running = first.RunAsync(stop.Token);
            await first.Assigned.WaitAsync(WaitLimit);
            _kafka.Send(0, 1_000, adId: 1);
            _kafka.Send(1, 2_000, adId: 3);
            _kafka.Send(0, 15_000, adId: 1); // watermark 13 s on partition 0, but partition 1 holds it at 0 s
            _kafka.Send(1, 14_000, adId: 3, EventType.Click); // now 12 s: window [0, 10 s) closes
            await Until(() => first.Progress.ResultsPublished == 2, "the first window's rows");
            await stop.CancelAsync();
            await running.WaitAsync(WaitLimit); // a clean stop: the batch is written and its offsets committed
        }

        // The second process: the closed window stays closed, the open one holds the first process's events.
        var second = NewRunner(test);
        var again = second.RunAsync(CancellationToken.None);
        await second.Assigned.WaitAsync(WaitLimit);
        var late = _kafka.Send(0, 3_000, adId: 2);
        _kafka.Send(1, 16_000, adId: 4);
        await Until(() => second.Progress.Consumed == 2, "the records after the restart");
        Assert.Equal(1, second.Progress.Late);
        await second.DrainAsync(CancellationToken.None).WaitAsync(WaitLimit);
        await again.WaitAsync(WaitLimit);

        var rows = _kafka.ReadAll(_kafka.Pipeline.Topics.Results).Select(r => WireFormat.ParseResult(r.Message.Value));
        Assert.Equal([(0L, 1, 1L, 0L), (0L, 2, 1L, 0L), (10_000L, 1, 1L, 0L), (10_000L, 2, 1L, 1L)],
            rows.Select(r => (r.WindowStart - T0, r.CampaignId, r.Views, r.Clicks)).Order());
        Assert.Equal([late], _kafka.ReadAll(_kafka.Pipeline.Topics.Late).Select(r => r.Message.Value));
    }

    /// <summary>
    /// A second instance on the same database joins the group and gets part of the partitions: it publishes and
    /// commits nothing and stops with the single-instance line; the first holds back its windows meanwhile, gets its
    /// partitions back and publishes whole ones.
    /// </summary>
    [Fact]
    public async Task A_second_instance_is_refused_and_the_first_publishes_whole_windows()
    {
        await using var test = TestDatabase.Sqlite(); // one database for both, as two instances of one deployment share it
        var first = NewRunner(test);
        var firstRun = first.RunAsync(CancellationToken.None);
        await first.Assigned.WaitAsync(WaitLimit);
        _kafka.Send(0, 1_000, adId: 1);
        _kafka.Send(1, 2_000, adId: 3);
        await Until(() => first.Progress.Consumed == 2, "2 records");

        var second = NewRunner(test);
        var secondRun = second.RunAsync(CancellationToken.None);
        await second.Assigned.WaitAsync(RebalanceLimit);
        // Each instance holds part of the partitions now: neither watermark sees every event.
        _kafka.Send(0, 3_000, adId: 1);
        _kafka.Send(1, 4_000, adId: 3);
        _kafka.Send(0, 15_000, adId: 1);
        _kafka.Send(1, 16_000, adId: 3);

        var refused = await Assert.ThrowsAsync<WorkerFailedException>(() => secondRun.WaitAsync(RebalanceLimit));
        output.WriteLine(refused.Message);
        Assert.Contains("The SQL engine is single-instance", refused.Message);
        Assert.Contains("use Flink or Spark", refused.Message);
        Assert.Equal(0, second.Progress.ResultsPublished);

        _kafka.Send(0, 25_000, adId: 1);
        _kafka.Send(1, 26_000, adId: 3);
        await Until(() => first.Progress.ResultsPublished >= 4, "the first instance, whole again, to publish [0, 20 s)", RebalanceLimit);
        await first.DrainAsync(CancellationToken.None).WaitAsync(WaitLimit);
        await firstRun.WaitAsync(WaitLimit);

        var rows = _kafka.ReadAll(_kafka.Pipeline.Topics.Results).Select(r => WireFormat.ParseResult(r.Message.Value));
        Assert.Equal([(0L, 1, 2L), (0L, 2, 2L), (10_000L, 1, 1L), (10_000L, 2, 1L), (20_000L, 1, 1L), (20_000L, 2, 1L)],
            rows.Select(r => (r.WindowStart - T0, r.CampaignId, r.Views)).Order());
        Assert.Empty(_kafka.ReadAll(_kafka.Pipeline.Topics.Late));
    }

    private SqlEngineRunner NewRunner(TestDatabase test) =>
        new(test.Options, test.Target, _kafka.Pipeline, Catalog, new KafkaConnection(_kafka.Bootstrap), new TestOutputLogger(output));

    public void Dispose() => _kafka.Dispose();
}
