using CtrPipeline.Bench;
using CtrPipeline.Bench.Catchup;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>The catch-up measurement: a small run per engine kind, checked against the loader's counts; the embedded broker's retention; bad options.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class CatchupTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(Engines.NativeContinuous)]
    [InlineData(EngineTarget.SqlSqlite)]
    public async Task An_engine_catches_up_with_a_loaded_topic_and_every_row_matches_the_loader(string engine)
    {
        var result = await Run(engine, events: 30_000);

        output.WriteLine(result.Line);
        Assert.Equal(0, result.WrongRows);
        Assert.True(result.ExpectedRows > 0);
        Assert.True(result.EnginePerSecond > 0 && result.BareConsumerPerSecond > 0 && result.ParsePerSecond > 0);
        Assert.Matches(@"^CATCHUP engine=\S+ events=30000 engine_per_s=\d+ bare_consumer_per_s=\d+ ratio=\d+\.\d\d parse_per_s=\d+ wrong_rows=0$", result.Line);
    }

    [Fact]
    public async Task A_load_beyond_the_embedded_brokers_retention_is_refused_with_the_reason()
    {
        var error = await Assert.ThrowsAsync<ConfigurationException>(() => Run(Engines.NativeContinuous, events: 1_500_000, partitions: 1));
        Assert.Contains("does not fit the embedded broker's retention", error.Message);
    }

    [Theory]
    [InlineData("catchup --events 10", "--events must be between 1000 and 50000000")]
    [InlineData("catchup --engine turbo", "Unknown engine 'turbo'")]
    [InlineData("catchup --window never", "--window: 'never' is not a duration")]
    public Task Invalid_catchup_options_end_with_one_error_line_and_exit_code_2(string arguments, string expected) =>
        BenchCommandLine.FailsWithOneErrorLine(arguments, expected);

    private static Task<CatchupResult> Run(string engine, long events, int partitions = 4)
    {
        var target = EngineTarget.Parse(engine, null).Single();
        var folder = Directory.CreateTempSubdirectory("ctr-catchup-").FullName;
        var settings = new CatchupSettings(new PipelineSettings { Partitions = partitions }, events, Seed: 7).Validate();
        return new CatchupRun(settings, target, CampaignCatalog.Load(CampaignCatalog.DefaultPath), NullLoggerFactory.Instance, new SilentProgress(), folder)
            .RunAsync(CancellationToken.None);
    }

    private sealed class SilentProgress : IRunProgress
    {
        public void Producing(string engine, TimeSpan elapsed, TimeSpan duration, long sent, long consumed, long lag, long results) { }

        public void Phase(string engine, string phase) { }
    }
}
