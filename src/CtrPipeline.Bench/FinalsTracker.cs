using CtrPipeline.Contracts;

namespace CtrPipeline.Bench;

/// <summary>
/// Whether an engine's final rows keep up with the clock, judged from its results topic alone, so it works for every
/// engine however it is hosted (Flink and Spark included, whose consumption the benchmark cannot see): how far the
/// newest final window's end trails the clock. A window can be final only once the watermark passed its end, so a
/// keeping-up engine trails by at most a window, the watermark delay and a trigger; one that falls behind trails
/// further and further. Over the second half of the run the trail must stay under that plus five seconds.
/// </summary>
public sealed class FinalsTracker(PipelineSettings pipeline, long loadStartMs)
{
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(5);
    private readonly List<(double Seconds, double BehindMs)> _samples = [];
    private long _newestFinalEnd = long.MinValue;

    /// <summary>The most a keeping-up engine's newest final window may trail the clock.</summary>
    public double AllowedMs => (pipeline.WindowSize + pipeline.WatermarkDelay + pipeline.TriggerInterval + Slack).TotalMilliseconds;

    /// <summary>A final row arrived (any thread).</summary>
    public void Final(long windowEnd)
    {
        long seen;
        while (windowEnd > (seen = Interlocked.Read(ref _newestFinalEnd)) && Interlocked.CompareExchange(ref _newestFinalEnd, windowEnd, seen) != seen) { }
    }

    /// <summary>Samples the trail at <paramref name="nowMs"/>, <paramref name="seconds"/> into the run (before any final row: since the load started).</summary>
    public void Sample(double seconds, long nowMs) =>
        _samples.Add((seconds, nowMs - Math.Max(loadStartMs, Interlocked.Read(ref _newestFinalEnd))));

    /// <summary>The longest trail over the second half of the run, ms; NaN before any sample (not measured).</summary>
    public double MaxBehindMs => _samples.Count == 0 ? double.NaN : _samples.Skip(_samples.Count / 2).Max(s => s.BehindMs);

    /// <summary>Whether the trail stayed within <see cref="AllowedMs"/>; false when it was never sampled.</summary>
    public bool KeepsUp => MaxBehindMs <= AllowedMs;
}
