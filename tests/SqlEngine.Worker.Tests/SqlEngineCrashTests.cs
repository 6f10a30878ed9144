using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Xunit.Abstractions;
using static CtrPipeline.Testing.KafkaFixture;

namespace SqlEngine.Worker.Tests;

/// <summary>
/// The SqlEngine.Worker process killed with SIGKILL in the middle of a backlog and started again on the same database
/// (SQLite file or PostgreSQL schema): every window's first final row must hold its exact count, and nothing that was
/// not late may go to the late topic. The expected counts are recomputed here from the events the test wrote, sharing no code with the engine.
/// </summary>
public sealed class SqlEngineCrashTests(ITestOutputHelper output) : IDisposable
{
    private const int EventsPerSecondPerPartition = 400;
    private const long FirstPhaseMs = 30_000, SecondPhaseMs = 60_000;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    private readonly KafkaFixture _kafka = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("ctr-sql-crash-").FullName;
    private readonly List<AdEvent> _sent = [];
    private readonly Random _random = new(15);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _assigned = new();
    private TestDatabase? _database;

    [Fact]
    public Task Sqlite_after_a_sigkill_mid_backlog_every_first_final_row_is_exact_and_nothing_is_late() =>
        After_a_sigkill_mid_backlog_every_first_final_row_is_exact_and_nothing_is_late(TestDatabase.Sqlite());

    [PostgresFact]
    public Task Postgres_after_a_sigkill_mid_backlog_every_first_final_row_is_exact_and_nothing_is_late() =>
        After_a_sigkill_mid_backlog_every_first_final_row_is_exact_and_nothing_is_late(TestDatabase.Postgres());

    private async Task After_a_sigkill_mid_backlog_every_first_final_row_is_exact_and_nothing_is_late(TestDatabase database)
    {
        await using var _ = database;
        _database = database;
        var partitions = _kafka.Pipeline.Partitions;

        // A backlog of 30 s of events. The engine is killed twice while it reads it: once with part of it committed
        // (the uncommitted rest is replayed), once after it published its first windows (closed_until is stored).
        for (var p = 0; p < partitions; p++) Produce(0, FirstPhaseMs, p);
        await KillWhen("first", () => Committed() > 0, "the first committed batch");
        await KillWhen("second", () => FinalRows().Count > 0, "the first final rows");

        // While it is down, 30 s more events pile up in partition 0; then it starts again on the same database, and
        // partition 1's share of those 30 s comes a second after the assignment (a real broker hands a restarted
        // consumer a long run of one partition's backlog before the next one's). Until partition 1 delivers, or is
        // idle for the idle timeout (5 s), it must hold the watermark back.
        Produce(FirstPhaseMs, SecondPhaseMs, partition: 0);
        using var third = StartWorker("third");
        await Until(() => _assigned.ContainsKey("third"), "the third process's assignment", Limit);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Produce(FirstPhaseMs, SecondPhaseMs, partition: 1);
        // Events far ahead on every partition close every window of the first 60 s.
        for (var p = 0; p < partitions; p++) _kafka.Send(p, SecondPhaseMs + 20_000, adId: 1);
        var windows = SecondPhaseMs / 10_000;
        await Until(() => FinalRows().Select(r => r.WindowStart).Distinct().Count(start => start < T0 + SecondPhaseMs) == windows,
            $"final rows of all {windows} windows", Limit);
        third.Kill(entireProcessTree: true);
        await third.WaitForExitAsync();

        var expected = _sent
            .GroupBy(e => (Window: e.EventTime - (e.EventTime - T0) % 10_000, Campaign: CampaignOf(e.AdId)))
            .ToDictionary(g => g.Key, g => (Views: g.LongCount(x => x.EventType == EventType.View), Clicks: g.LongCount(x => x.EventType == EventType.Click)));
        var firstFinals = FinalRows()
            .GroupBy(r => (Window: r.WindowStart, Campaign: r.CampaignId))
            .Where(g => g.Key.Window < T0 + SecondPhaseMs)
            .ToDictionary(g => g.Key, g => (g.First().Views, g.First().Clicks));
        var wrong = expected.Where(x => !firstFinals.TryGetValue(x.Key, out var got) || got != x.Value)
            .Select(x => $"window +{(x.Key.Window - T0) / 1000}s campaign {x.Key.Campaign}: expected {x.Value}, first final {(firstFinals.TryGetValue(x.Key, out var got) ? got.ToString() : "none")}")
            .ToList();
        foreach (var line in wrong) output.WriteLine(line);
        var late = _kafka.ReadAll(_kafka.Pipeline.Topics.Late).Count;

        Assert.Equal((0, 0), (wrong.Count, late));
        Assert.Equal(expected.Count, firstFinals.Count);
    }

    /// <summary>
    /// Events with times in [<paramref name="fromMs"/>, <paramref name="toMs"/>) after <see cref="T0"/> in
    /// <paramref name="partition"/>, in time order except one event in ten delayed by up to 1.5 s (inside the 2 s
    /// watermark delay, so none is late).
    /// </summary>
    private void Produce(long fromMs, long toMs, int partition)
    {
        // Large batches: the embedded broker answers a fetch with one producer batch per partition, where a real broker
        // sends up to 1 MB per partition, so that a restarted consumer gets a long run of one partition's backlog
        // before the next partition's. Large batches give the embedded broker the same shape.
        var config = KafkaClients.Producer(new KafkaConnection(_kafka.Bootstrap), "crash-test-events");
        config.LingerMs = 200;
        using var producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        var stepMs = 1_000.0 / EventsPerSecondPerPartition;
        for (var t = (double)fromMs; t < toMs; t += stepMs)
        {
            var time = (long)t;
            if (_random.Next(10) == 0) time = Math.Max(fromMs, time - _random.Next(1_500));
            var e = new AdEvent(_sent.Count + 1, _random.Next(20) == 0 ? EventType.Click : EventType.View, _random.Next(1, 7), 42, T0 + time);
            _sent.Add(e);
            producer.Produce(new TopicPartition(_kafka.Pipeline.Topics.Events, partition),
                new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(e.AdId.ToString()), Value = WireFormat.Serialize(e) });
        }
        Assert.Equal(0, producer.Flush(WaitLimit));
    }

    /// <summary>Starts the worker, waits for <paramref name="condition"/>, then kills it with SIGKILL: no clean stop, no last batch.</summary>
    private async Task KillWhen(string name, Func<bool> condition, string what)
    {
        using var worker = StartWorker(name);
        await Until(condition, what, Limit);
        worker.Kill(entireProcessTree: true);
        await worker.WaitForExitAsync();
        output.WriteLine($"{name} killed after {FinalRows().Count} final rows, with {Committed()} of {_sent.Count} events committed");
    }

    private long Committed() => _kafka.Committed(new SqlEngineOptions().GroupId).Values.Sum(o => Math.Max(0, o));

    private static int CampaignOf(int adId) => Catalog.TryGetCampaign(adId, out var campaign) ? campaign : throw new InvalidOperationException($"ad {adId}");

    private List<CtrResult> FinalRows() =>
        [.. _kafka.ReadAll(_kafka.Pipeline.Topics.Results).Select(r => WireFormat.ParseResult(r.Message.Value)).Where(r => r.Final)];

    private Process StartWorker(string name)
    {
        var catalogPath = Path.Combine(_folder, "campaigns.csv");
        if (!File.Exists(catalogPath)) Catalog.Save(catalogPath);
        var pipeline = _kafka.Pipeline;
        var start = WorkerProcess.StartInfo("SqlEngine.Worker", new Dictionary<string, string>
        {
            ["ConnectionStrings__kafka"] = _kafka.Bootstrap,
            ["Sql__SqliteFile"] = _database!.Options.SqliteFile,
            ["Sql__Schema"] = _database.Options.Schema,
            ["ConnectionStrings__ctrdb"] = _database.IsPostgres ? PostgresServer.ConnectionString! : "",
            ["Sql__BatchInterval"] = "00:00:00.050",
            ["Pipeline__Partitions"] = pipeline.Partitions.ToString(),
            ["Pipeline__WindowSize"] = pipeline.WindowSize.ToString(),
            ["Pipeline__WatermarkDelay"] = pipeline.WatermarkDelay.ToString(),
            ["Pipeline__IdleTimeout"] = "00:00:05", // the default: the restart must not count partitions not read yet as idle
            ["Pipeline__TriggerInterval"] = pipeline.TriggerInterval.ToString(),
            ["Pipeline__CatalogPath"] = catalogPath,
        });
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => Log(name, line.Data);
        process.ErrorDataReceived += (_, line) => Log(name, line.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Log(string name, string? line)
    {
        if (line is null) return;
        if (line.Contains("sql assigned")) _assigned[name] = true;
        try
        {
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} [{name}] {line}");
        }
        catch (InvalidOperationException)
        {
            // the test is over
        }
    }

    public void Dispose()
    {
        _kafka.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
