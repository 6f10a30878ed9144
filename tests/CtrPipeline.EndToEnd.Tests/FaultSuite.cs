using CtrPipeline.Bench;
using CtrPipeline.Bench.Faults;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// The fault suite (issue 15, item 6), the faults command's library at a small scale: each engine as its own process
/// on an embedded broker in its own process, 5,000 events/s, 5 s windows: SIGKILL and restart, a broker outage longer
/// than the session timeout with a forced rebalance, a second instance, hostile records, a start on a backlog. One test class per engine, so
/// xunit runs the engines concurrently (each run has its own broker and database); the scenarios of one engine run one
/// after another.
/// Every failure message carries the FAULTS line and the first differing windows (expected against actual).
/// </summary>
public abstract class FaultSuite(ITestOutputHelper output, string engine)
{
    private static readonly PipelineSettings Pipeline = new()
    {
        Partitions = 4,
        WindowSize = TimeSpan.FromSeconds(5),
        WatermarkDelay = TimeSpan.FromSeconds(2),
        TriggerInterval = TimeSpan.FromSeconds(1),
    };

    private static FaultSettings Small => new()
    {
        Pipeline = Pipeline,
        Rate = 5_000,
        Duration = TimeSpan.FromSeconds(20),
        KillAt = TimeSpan.FromSeconds(8),
        RestartAfter = TimeSpan.FromSeconds(3),
        OutageAt = TimeSpan.FromSeconds(5),
        SecondInstanceAt = TimeSpan.FromSeconds(5),
        SecondInstanceWait = TimeSpan.FromSeconds(15),
        HostileAt = TimeSpan.FromSeconds(5),
        DrainTimeout = TimeSpan.FromMinutes(2),
    };

    protected async Task Sigkill_and_restart_keeps_every_first_final_row_exact()
    {
        var r = await RunAsync(FaultScenario.Kill, Small);
        Assert.Equal(1, r.Kills);
        AssertWindowsExact(r);
        // Duplicate final rows are counted, not asserted: the embedded broker shows read_committed readers the rows of
        // a transaction the SIGKILL left open (a real Kafka aborts it), so on it an exactly-once engine can show some.
        output.WriteLine($"duplicate final rows: {r.Counts.DuplicateFinals} (guarantee {(r.ExactlyOnce ? "exactly-once" : "at-least-once")})");
    }

    protected async Task A_broker_outage_and_a_forced_rebalance_lose_nothing_and_count_nothing_twice()
    {
        // 30 s unreachable, as issue 15 asks: the group forgets the engine (10 s session timeout) and the producer's backlog
        // arrives at once when the broker is back.
        var r = await RunAsync(FaultScenario.BrokerOutage, Small with { Duration = TimeSpan.FromSeconds(40), OutageLength = TimeSpan.FromSeconds(30) });
        AssertStayedUp(r);
        Assert.True(r.Counts.Late == 0, $"{engine}: {r.Counts.Late} events sent to the late topic; none was late. {Describe(r)}");
        AssertWindowsExact(r);
        // As after a SIGKILL: a transaction aborted when the group lost the engine stays visible on the embedded broker.
        output.WriteLine($"duplicate final rows: {r.Counts.DuplicateFinals} (guarantee {(r.ExactlyOnce ? "exactly-once" : "at-least-once")})");
    }

    protected async Task A_second_instance_is_refused_and_publishes_nothing()
    {
        // The newcomer needs a rebalance (about 9 s on the embedded broker) and its 10 s partial-assignment timeout.
        var r = await RunAsync(FaultScenario.SecondInstance, Small with { Duration = TimeSpan.FromSeconds(30), SecondInstanceWait = TimeSpan.FromSeconds(50) });
        Assert.True(r.SecondInstance is { Refused: true, FirstInstanceRunning: true }, $"{engine}: the newcomer must exit 1 and the first instance go on. {Describe(r)}");
        Assert.Contains(r.SecondInstance.ErrorLines, line => line.Contains("single-instance", StringComparison.Ordinal) && line.Contains("use Flink or Spark", StringComparison.Ordinal));
        AssertStayedUp(r);
        Assert.True(r.Counts.Late == 0 && r.Counts.DuplicateFinals == 0, $"{engine}: nothing late and no second final row expected. {Describe(r)}");
        AssertWindowsExact(r);
    }

    protected async Task Hostile_records_are_dead_lettered_with_their_reason_and_the_counts_stay_exact()
    {
        var r = await RunAsync(FaultScenario.Hostile, Small with { Duration = TimeSpan.FromSeconds(15) });
        AssertStayedUp(r);
        var wrongKinds = r.Hostile
            .Where(h => h.Counted ? h.DeadLetterReasons.Count != 0 : h.DeadLetterReasons.Count != h.Injected || h.DeadLetterReasons.Any(string.IsNullOrWhiteSpace))
            .Select(h => h.ToString()).ToList();
        Assert.True(wrongKinds.Count == 0, $"{engine}: hostile records not handled as the contract says (each invalid one dead-lettered once with a reason, the valid one counted):{Environment.NewLine}{string.Join(Environment.NewLine, wrongKinds)}");
        foreach (var kind in new[] { "year-2200", "negative-time" })
        {
            var h = r.Hostile.Single(x => x.Kind == kind);
            Assert.True(h.DeadLetterReasons.All(reason => reason.Contains("event time out of range", StringComparison.Ordinal)),
                $"{engine}: {kind} must be dead-lettered with the reason \"event time out of range\"; {h}");
        }
        Assert.True(r.Counts.Dlq == r.Counts.ExpectedDlq, $"{engine}: {r.Counts.Dlq} dead-letter records, but the events topic holds {r.Counts.ExpectedDlq} invalid records; {r.Line}");
        Assert.Equal(0, r.Counts.Late);
        AssertWindowsExact(r);
    }

    protected async Task An_engine_that_starts_on_a_backlog_waits_for_every_partitions_share()
    {
        // 75,000 events in the topic when the engine starts: every partition delivers its share in chunks, and no window
        // may close before the last partition's share of it is in.
        var r = await RunAsync(FaultScenario.Backlog, Small with { Duration = TimeSpan.FromSeconds(25), BacklogFor = TimeSpan.FromSeconds(15) });
        AssertStayedUp(r);
        Assert.True(r.Counts.Late == 0, $"{engine}: {r.Counts.Late} events sent to the late topic; none was late. {Describe(r)}");
        AssertWindowsExact(r);
    }

    private async Task<FaultResult> RunAsync(FaultScenario scenario, FaultSettings settings)
    {
        var target = EngineTarget.Parse(engine, PostgresServer.ConnectionString).Single();
        var catalog = CampaignCatalog.Load(CampaignCatalog.DefaultPath);
        var folder = Directory.CreateTempSubdirectory($"ctr-faults-{engine}-").FullName;
        var run = new FaultRun(settings.Validate([scenario]), target, [scenario], catalog, CampaignCatalog.DefaultPath, folder,
            PostgresServer.ConnectionString, new TestProgress(output), NullLoggerFactory.Instance);
        var result = await run.RunAsync(CancellationToken.None);
        output.WriteLine(result.Line);
        foreach (var line in result.Details()) output.WriteLine("  " + line);
        return result;
    }

    private void AssertWindowsExact(FaultResult r)
    {
        Assert.True(r.Counts.LostRecords == 0, $"{engine}: the embedded broker dropped records before the tap read them; the run proves nothing. {Describe(r)}");
        Assert.True(r.Counts.WindowsChecked > 0, $"{engine}: no window was judged. {Describe(r)}");
        Assert.True(r.Counts.MissingWindows == 0 && r.Counts.WrongWindows == 0,
            $"{engine}: {r.Counts.MissingWindows} windows without a final row for every campaign, {r.Counts.WrongWindows} windows whose first final rows differ from the recount. {Describe(r)}");
    }

    private void AssertStayedUp(FaultResult r) =>
        Assert.False(r.Notes.Any(n => n.StartsWith("the engine ended by itself", StringComparison.Ordinal)), $"{engine} must stay up. {Describe(r)}");

    private static string Describe(FaultResult r) =>
        $"{r.Line}{Environment.NewLine}{string.Join(Environment.NewLine, r.Details().Select(d => "  " + d))}";

    /// <summary>Progress lines into the test's output.</summary>
    private sealed class TestProgress(ITestOutputHelper output) : IRunProgress
    {
        private DateTime _last = DateTime.MinValue;

        public void Producing(string engine, TimeSpan elapsed, TimeSpan duration, long sent, long consumed, long lag, long results)
        {
            if (DateTime.UtcNow - _last < TimeSpan.FromSeconds(5)) return;
            _last = DateTime.UtcNow;
            Write($"[{engine}] {elapsed.TotalSeconds:0}/{duration.TotalSeconds:0} s sent {sent:N0} committed {consumed:N0} final rows {results:N0}");
        }

        public void Phase(string engine, string phase) => Write($"[{engine}] {phase}");

        private void Write(string line)
        {
            try { output.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {line}"); }
            catch (InvalidOperationException) { } // the test is over
        }
    }
}

public sealed class NativeContinuousFaultTests(ITestOutputHelper output) : FaultSuite(output, Engines.NativeContinuous)
{
    [Fact] public Task Sigkill_and_restart() => Sigkill_and_restart_keeps_every_first_final_row_exact();
    [Fact] public Task Broker_outage_and_rebalance() => A_broker_outage_and_a_forced_rebalance_lose_nothing_and_count_nothing_twice();
    [Fact] public Task Second_instance() => A_second_instance_is_refused_and_publishes_nothing();
    [Fact] public Task Hostile_records() => Hostile_records_are_dead_lettered_with_their_reason_and_the_counts_stay_exact();
    [Fact] public Task Backlog_at_start() => An_engine_that_starts_on_a_backlog_waits_for_every_partitions_share();
}

public sealed class NativeMicroBatchFaultTests(ITestOutputHelper output) : FaultSuite(output, Engines.NativeMicroBatch)
{
    [Fact] public Task Sigkill_and_restart() => Sigkill_and_restart_keeps_every_first_final_row_exact();
    [Fact] public Task Broker_outage_and_rebalance() => A_broker_outage_and_a_forced_rebalance_lose_nothing_and_count_nothing_twice();
    [Fact] public Task Second_instance() => A_second_instance_is_refused_and_publishes_nothing();
    [Fact] public Task Hostile_records() => Hostile_records_are_dead_lettered_with_their_reason_and_the_counts_stay_exact();
    [Fact] public Task Backlog_at_start() => An_engine_that_starts_on_a_backlog_waits_for_every_partitions_share();
}

public sealed class SqlSqliteFaultTests(ITestOutputHelper output) : FaultSuite(output, EngineTarget.SqlSqlite)
{
    [Fact] public Task Sigkill_and_restart() => Sigkill_and_restart_keeps_every_first_final_row_exact();
    [Fact] public Task Broker_outage_and_rebalance() => A_broker_outage_and_a_forced_rebalance_lose_nothing_and_count_nothing_twice();
    [Fact] public Task Second_instance() => A_second_instance_is_refused_and_publishes_nothing();
    [Fact] public Task Hostile_records() => Hostile_records_are_dead_lettered_with_their_reason_and_the_counts_stay_exact();
    [Fact] public Task Backlog_at_start() => An_engine_that_starts_on_a_backlog_waits_for_every_partitions_share();
}

/// <summary>The SQL engine on PostgreSQL; skipped, with the reason, when CTR_TEST_POSTGRES is not set.</summary>
public sealed class SqlPostgresFaultTests(ITestOutputHelper output) : FaultSuite(output, EngineTarget.SqlPostgres)
{
    [PostgresFact] public Task Sigkill_and_restart() => Sigkill_and_restart_keeps_every_first_final_row_exact();
    [PostgresFact] public Task Broker_outage_and_rebalance() => A_broker_outage_and_a_forced_rebalance_lose_nothing_and_count_nothing_twice();
    [PostgresFact] public Task Second_instance() => A_second_instance_is_refused_and_publishes_nothing();
    [PostgresFact] public Task Hostile_records() => Hostile_records_are_dead_lettered_with_their_reason_and_the_counts_stay_exact();
    [PostgresFact] public Task Backlog_at_start() => An_engine_that_starts_on_a_backlog_waits_for_every_partitions_share();
}
