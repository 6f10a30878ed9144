using System.Diagnostics;

namespace CtrPipeline.Bench.Measurement;

/// <summary>
/// Several costs as one: CPU adds up; so do the peaks, which makes the peak an upper bound (the parts need not have
/// peaked at the same time).
/// </summary>
public sealed class CostSum(IReadOnlyList<IProcessCost> parts) : IProcessCost
{
    public CostSample Sample()
    {
        var samples = parts.Select(p => p.Sample()).ToList();
        return new CostSample(samples.Sum(s => s.CpuSeconds), samples.Sum(s => s.PeakRssBytes), Stopwatch.GetTimestamp());
    }

    public void Dispose()
    {
        foreach (var part in parts) part.Dispose();
    }
}
