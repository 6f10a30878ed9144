namespace CtrPipeline.Bench.Measurement;

/// <summary>
/// What some processes (or containers) have cost so far: cumulative CPU time and peak memory. Two samples give the
/// <see cref="Cost"/> of the time between them.
/// </summary>
public interface IProcessCost : IDisposable
{
    /// <summary>Reads the counters now; throws <see cref="CostUnavailableException"/> when they cannot be read.</summary>
    CostSample Sample();
}
