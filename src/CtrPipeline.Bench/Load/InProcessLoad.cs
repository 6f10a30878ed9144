using CtrPipeline.Producer;

namespace CtrPipeline.Bench.Load;

/// <summary>The load made in the benchmark's own process (--producers 0): quick, but it competes with the engine for the cores.</summary>
public sealed class InProcessLoad(EventProducer producer) : ILoad
{
    public Task RunAsync(CancellationToken cancel) => producer.RunAsync(cancel);

    public ProducerProgress Progress => producer.Progress;

    public IReadOnlyList<int> ProcessIds => [];

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
