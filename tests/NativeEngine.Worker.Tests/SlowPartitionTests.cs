using CtrPipeline.Contracts;
using Xunit.Abstractions;

namespace NativeEngine.Worker.Tests;

/// <summary>A partition silent longer than the idle timeout while the broker holds its records is slow, not idle (<see cref="SlowPartitionScenario"/>).</summary>
public sealed class SlowPartitionTests(ITestOutputHelper output) : IDisposable
{
    private readonly KafkaFixture _kafka = SlowPartitionScenario.NewFixture(TopicNames.EngineState);

    [Theory]
    [InlineData(Engines.NativeContinuous, true)]
    [InlineData(Engines.NativeContinuous, false)]
    [InlineData(Engines.NativeMicroBatch, true)]
    [InlineData(Engines.NativeMicroBatch, false)]
    public Task No_window_closes_while_a_slow_partition_holds_its_events(string engine, bool atStart)
    {
        var options = new EngineOptions { Id = engine };
        return SlowPartitionScenario.Run(_kafka,
            () => new NativeEngineRunner(options, _kafka.Pipeline, KafkaFixture.Catalog, new KafkaConnection(_kafka.Bootstrap), new TestOutputLogger(output)),
            atStart, [options.GroupId, options.TransactionalId]);
    }

    public void Dispose() => _kafka.Dispose();
}
