using CtrPipeline.Bench;
using CtrPipeline.Bench.Verification;
using CtrPipeline.Contracts;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>How the oracle reads a run's events: the retention verdict, the tap process's file, and each read end to end.</summary>
public sealed class RetentionVerdictTests
{
    private static readonly TimeSpan KeptFor = RunRetention.KeptFor(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(2));

    /// <summary>250,000 events/s for 60 s on 16 partitions.</summary>
    private static readonly double Planned = RunRetention.PlannedBytesPerPartition(250_000, TimeSpan.FromSeconds(60), 16);

    [Fact]
    public void Kafkas_defaults_keep_a_minute_long_run()
    {
        // Kafka's broker defaults: delete, no size limit, seven days.
        var verdict = RunRetention.Judge(Config(("cleanup.policy", "delete"), ("retention.bytes", "-1"), ("retention.ms", "604800000")), Planned, KeptFor);

        Assert.True(verdict.Keeps, verdict.Reason);
    }

    [Theory]
    [InlineData("compact", "-1", "604800000", "compaction")]
    [InlineData("delete,compact", "-1", "604800000", "compaction")]
    [InlineData("delete", "1073741824", "604800000", "retention.bytes=1073741824")] // 1 GiB a partition, the run plans 240 MB: kept
    [InlineData("delete", "104857600", "604800000", "retention.bytes=104857600")]   // 100 MiB a partition: not kept
    [InlineData("delete", "-1", "300000", "retention.ms=300000")]
    public void A_topic_that_may_delete_part_of_the_run_does_not_keep_it(string policy, string bytes, string ms, string named)
    {
        var verdict = RunRetention.Judge(Config(("cleanup.policy", policy), ("retention.bytes", bytes), ("retention.ms", ms)), Planned, KeptFor);

        Assert.Contains(named, verdict.Reason);
        Assert.Equal(bytes == "1073741824", verdict.Keeps);
    }

    [Fact]
    public void Missing_settings_mean_kafkas_unlimited_defaults()
    {
        Assert.True(RunRetention.Judge(Config(), Planned, KeptFor).Keeps);
    }

    private static Dictionary<string, string> Config(params (string Name, string Value)[] entries) => entries.ToDictionary(e => e.Name, e => e.Value);
}

public sealed class TappedEventsFileTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"ctr-tap-{Guid.NewGuid():N}.bin");

    public void Dispose() => File.Delete(_file);

    [Fact]
    public void Events_come_back_as_they_were_written_with_the_counts()
    {
        List<TappedEvent> events = [.. Enumerable.Range(0, 3_000_000).Select(i => new TappedEvent(i, i % 7 == 0 ? EventType.Click : EventType.View, i % 100, 1_700_000_000_000 + i, 1_700_000_000_100 + i))];

        TappedEventsFile.Write(_file, [events.GetRange(0, 1_000_000), events.GetRange(1_000_000, 2_000_000)], 3_000_017, 5); // two taps' parts
        var read = TappedEventsFile.Read(_file);

        Assert.Equal((3_000_017L, 5L), (read.EventRecords, read.Lost));
        Assert.Equal(events, read.Events);
    }

    [Fact]
    public void A_file_cut_short_is_refused()
    {
        TappedEventsFile.Write(_file, new RecordedEvents([new TappedEvent(1, EventType.View, 1, 2, 3), new TappedEvent(2, EventType.Click, 1, 2, 3)], 2, 0));
        using (var file = new FileStream(_file, FileMode.Open)) file.SetLength(file.Length - 1);

        Assert.Throws<InvalidDataException>(() => TappedEventsFile.Read(_file));
    }
}

[Collection(PipelineCollection.Name)]
public sealed class OracleReadEndToEndTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(EventsRead.Auto, "live")] // the embedded broker cannot keep a run: the tap runs in its own process
    [InlineData(EventsRead.AfterLoad, "after-load")] // a short run stays within its 5 MiB a partition
    public async Task The_oracle_matches_whichever_way_it_read_the_events(EventsRead read, string reported)
    {
        var settings = OracleEndToEndTests.ShortRun("poisson") with { OracleRead = read };

        var report = (await OracleEndToEndTests.NewExperiment(settings, Engines.NativeContinuous, output).RunAsync(TestContext.Timeout)).Report;

        output.WriteLine(report.ResultLine());
        Assert.Equal(reported, report.OracleRead);
        Assert.Equal(OracleVerdict.Match, report.Oracle.Verdict);
        Assert.Equal(report.Events, report.Oracle.EventsRead);
        Assert.True(report.Oracle.ExpectedRows > 0, "the oracle compared no rows");
    }
}

[Collection(ConsoleCollection.Name)]
public sealed class OracleReadCommandLineTests
{
    [Fact]
    public async Task Verifying_after_the_load_a_run_whose_events_retention_deleted_ends_with_one_line()
    {
        // 40,000 events/s for 6 s on one partition is over 20 MB: the embedded broker keeps the newest 5 MiB.
        var folder = Directory.CreateTempSubdirectory("ctr-lost-").FullName;
        try
        {
            await BenchCommandLine.FailsWithOneErrorLine(
                $"run --engine native-continuous --rate 40000 --duration 6s --partitions 1 --window 2s --warmup 2s --verify --oracle-read after-load --out {folder}",
                "the run's events were lost to retention before the oracle read them after the load");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public Task Oracle_read_goes_with_verify() =>
        BenchCommandLine.FailsWithOneErrorLine("run --engine native-continuous --oracle-read live", "--oracle-read goes with --verify");

    [Fact]
    public Task An_unknown_oracle_read_is_refused() =>
        BenchCommandLine.FailsWithOneErrorLine("run --engine native-continuous --verify --oracle-read later", "--oracle-read must be auto");
}
