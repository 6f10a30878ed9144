using CtrPipeline.Bench;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using CtrPipeline.Producer;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// The correctness oracle over the whole pipeline: embedded broker, seeded producer with out-of-order events inside
/// the allowed lateness and some malformed records, each native engine, the analyzer, then DuckDB recomputing the
/// expected per-window counts from the events actually in the topic. The SQL engine runs on a fresh SQLite file, and on
/// a fresh schema of the PostgreSQL server when one is configured.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class OracleEndToEndTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(Engines.NativeContinuous, "poisson")]
    [InlineData(Engines.NativeMicroBatch, "mmpp")]
    [InlineData(EngineTarget.SqlSqlite, "mmpp")]
    public Task Engine_final_rows_equal_the_oracle_recomputation(string target, string profile) => Final_rows_equal_the_oracle(target, profile);

    [PostgresFact]
    public Task Sql_engine_on_postgres_final_rows_equal_the_oracle_recomputation() => Final_rows_equal_the_oracle(EngineTarget.SqlPostgres, "poisson");

    private async Task Final_rows_equal_the_oracle(string target, string profile)
    {
        var report = (await NewExperiment(ShortRun(profile), target, output).RunAsync(TestContext.Timeout)).Report;

        output.WriteLine(report.ResultLine());
        foreach (var example in report.Oracle.Examples) output.WriteLine(example);
        Assert.Equal(OracleVerdict.Match, report.Oracle.Verdict);
        Assert.True(report.Oracle.ExpectedRows > 0, "the oracle compared no rows");
        Assert.Equal(report.Oracle.ExpectedRows, report.Oracle.EngineRows);
        Assert.Equal(0, report.Late); // every out-of-order delay is inside the watermark delay
        Assert.Equal(report.Malformed, report.Bad);
        Assert.True(report.L1.Count > 0 && report.L1.P50 >= 0);
        Assert.True(report.WarmupResults > 0, "the first 2 s (one window) are warm-up");
        Assert.Equal(report.MeasuredResults, report.L1.Count);
        Assert.Equal("CreateTime", report.KafkaTimestampType);
    }

    /// <summary>An experiment on <paramref name="target"/> (an engine id, or sql-sqlite / sql-postgres) with its files in a temporary folder.</summary>
    internal static Experiment NewExperiment(ExperimentSettings settings, string target, ITestOutputHelper output) =>
        new(settings, EngineTarget.Parse(target, PostgresServer.ConnectionString).Single(), CampaignCatalog.Load(null), NullLoggerFactory.Instance,
            new TestProgress(output), Directory.CreateTempSubdirectory("ctr-experiment-").FullName);

    internal static ExperimentSettings ShortRun(string profile)
    {
        var settings = new ExperimentSettings(
            new ProducerOptions
            {
                Profile = profile,
                Rate = 3_000,
                Duration = TimeSpan.FromSeconds(6),
                Seed = 7,
                OutOfOrderFraction = 0.1,
                OutOfOrderMeanDelay = TimeSpan.FromMilliseconds(200),
                OutOfOrderMaxDelay = TimeSpan.FromMilliseconds(800),
                MalformedFraction = 0.002,
            },
            new PipelineSettings
            {
                WindowSize = TimeSpan.FromSeconds(2),
                WatermarkDelay = TimeSpan.FromSeconds(1),
                TriggerInterval = TimeSpan.FromMilliseconds(500),
                Partitions = 3,
            },
            Verify: true,
            Brokers: 1);
        return (settings with { Warmup = TimeSpan.FromSeconds(2) }).Validate();
    }
}

internal static class TestContext
{
    public static CancellationToken Timeout => new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token;
}

internal sealed class TestProgress(ITestOutputHelper output) : IRunProgress
{
    private int _ticks;

    public void Producing(string engine, TimeSpan elapsed, TimeSpan duration, long sent, long consumed, long lag, long results)
    {
        if (_ticks++ % 4 == 0) output.WriteLine($"{elapsed.TotalSeconds:0.0}s sent={sent} consumed={consumed} lag={lag} results={results}");
    }

    public void Phase(string engine, string phase) => output.WriteLine($"[{engine}] {phase}");
}
