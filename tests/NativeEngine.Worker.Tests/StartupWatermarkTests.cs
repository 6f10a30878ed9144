using CtrPipeline.Contracts;
using Xunit.Abstractions;
using static CtrPipeline.Testing.KafkaFixture;

namespace NativeEngine.Worker.Tests;

/// <summary>
/// The start-up rule against Kafka: an assigned partition that has not delivered yet holds the watermark back, so the
/// first partition to deliver its backlog cannot close windows whose events another partition delivers a moment later.
/// </summary>
public sealed class StartupWatermarkTests(ITestOutputHelper output) : IDisposable
{
    private readonly KafkaFixture _kafka = new();

    [Theory]
    [InlineData(Engines.NativeContinuous)]
    [InlineData(Engines.NativeMicroBatch)]
    public async Task A_partition_that_delivers_after_another_ones_backlog_loses_nothing(string engine)
    {
        var runner = new NativeEngineRunner(new EngineOptions { Id = engine }, _kafka.Pipeline, Catalog, new KafkaConnection(_kafka.Bootstrap), new TestOutputLogger(output));
        var running = runner.RunAsync(CancellationToken.None);
        await runner.Assigned.WaitAsync(WaitLimit);

        // Partition 0's backlog spans three windows; partition 1's events of the same windows come a second later.
        for (var t = 0L; t < 30_000; t += 1_000) _kafka.Send(0, t, adId: 1);
        await Until(() => runner.Progress.Consumed == 30, "partition 0's backlog");
        await Task.Delay(TimeSpan.FromSeconds(1)); // several ticks: nothing may close while partition 1 is silent
        Assert.Equal(long.MinValue, runner.Progress.Watermark);

        for (var t = 500L; t < 30_000; t += 1_000) _kafka.Send(1, t, adId: 3);
        await Until(() => runner.Progress.Consumed == 60, "partition 1's events");
        await runner.DrainAsync(CancellationToken.None).WaitAsync(WaitLimit);
        await running.WaitAsync(WaitLimit);

        var finals = _kafka.ReadAll(_kafka.Pipeline.Topics.Results).Select(r => WireFormat.ParseResult(r.Message.Value)).Where(r => r.Final);
        Assert.Equal(
            [(0L, 1, 10L), (0L, 2, 10L), (10_000L, 1, 10L), (10_000L, 2, 10L), (20_000L, 1, 10L), (20_000L, 2, 10L)],
            finals.Select(r => (r.WindowStart - T0, r.CampaignId, r.Views)).Order());
        Assert.Equal(0, runner.Progress.Late);
        Assert.Empty(_kafka.ReadAll(_kafka.Pipeline.Topics.Late));
    }

    public void Dispose() => _kafka.Dispose();
}
