namespace CtrPipeline.Bench.Measurement;

/// <summary>What a window of a run cost: CPU seconds over wall seconds, and the peak resident memory in bytes.</summary>
public sealed record Cost(double CpuSeconds, double WallSeconds, long PeakRssBytes)
{
    /// <summary>How many cores were busy on average.</summary>
    public double? AverageCores => WallSeconds > 0 ? CpuSeconds / WallSeconds : null;

    public double PeakRssMb => PeakRssBytes / (1024.0 * 1024);

    /// <summary>CPU seconds per million of <paramref name="events"/>; null without events, where the ratio means nothing.</summary>
    public double? CpuSecondsPerMillion(long events) => events > 0 ? CpuSeconds / (events / 1e6) : null;
}
