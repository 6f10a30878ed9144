using System.Diagnostics;

namespace CtrPipeline.Bench.Measurement;

/// <summary>
/// Cumulative CPU seconds (user and system) and peak resident memory in bytes, read at <see cref="Timestamp"/>
/// (<see cref="Stopwatch.GetTimestamp"/>).
/// </summary>
public readonly record struct CostSample(double CpuSeconds, long PeakRssBytes, long Timestamp)
{
    /// <summary>The cost from <paramref name="start"/> to this sample; the peak is this sample's (memory is not given back to a window).</summary>
    public Cost Since(CostSample start) =>
        new(CpuSeconds - start.CpuSeconds, Stopwatch.GetElapsedTime(start.Timestamp, Timestamp).TotalSeconds, PeakRssBytes);
}
