using CtrPipeline.Contracts;
using Xunit.Abstractions;

namespace SqlEngine.Worker.Tests;

/// <summary>A partition silent longer than the idle timeout while the broker holds its records is slow, not idle (<see cref="SlowPartitionScenario"/>).</summary>
public sealed class SlowPartitionTests(ITestOutputHelper output) : IDisposable
{
    private readonly KafkaFixture _kafka = SlowPartitionScenario.NewFixture();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task No_window_closes_while_a_slow_partition_holds_its_events(bool atStart)
    {
        await using var test = TestDatabase.Sqlite();
        await SlowPartitionScenario.Run(_kafka,
            () => new SqlEngineRunner(test.Options, test.Target, _kafka.Pipeline, KafkaFixture.Catalog, new KafkaConnection(_kafka.Bootstrap), new TestOutputLogger(output)),
            atStart, [test.Options.GroupId]);
    }

    public void Dispose() => _kafka.Dispose();
}
