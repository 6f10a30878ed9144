namespace CtrPipeline.Bench;

/// <summary>
/// Samples consumer lag (records produced but not yet consumed by the engine) during a run and decides whether it
/// stayed bounded: the sustainable-throughput criterion of Karimov et al. (ICDE 2018) — at a sustainable rate the
/// backlog does not keep growing. Bounded means: over the second half of the run the least-squares trend of the lag
/// grows by less than one second's worth of offered events, and the run ends with less than two seconds' worth queued.
/// </summary>
public sealed class LagTracker(double offeredRate)
{
    private readonly List<(double Seconds, long Lag)> _samples = [];

    public void Add(double seconds, long lag) => _samples.Add((seconds, Math.Max(0, lag)));

    public long Max => _samples.Count == 0 ? 0 : _samples.Max(s => s.Lag);

    public long Last => _samples.Count == 0 ? 0 : _samples[^1].Lag;

    /// <summary>Growth of the lag in records per second over the second half of the run (least squares).</summary>
    public double TrendPerSecond
    {
        get
        {
            if (_samples.Count < 4) return 0;
            var half = _samples.Skip(_samples.Count / 2).ToList();
            var mx = half.Average(s => s.Seconds);
            var my = half.Average(s => (double)s.Lag);
            var sxx = half.Sum(s => (s.Seconds - mx) * (s.Seconds - mx));
            return sxx == 0 ? 0 : half.Sum(s => (s.Seconds - mx) * (s.Lag - my)) / sxx;
        }
    }

    public bool Bounded
    {
        get
        {
            if (_samples.Count < 4) return Last <= 2 * offeredRate;
            var halfSpan = _samples[^1].Seconds - _samples[_samples.Count / 2].Seconds;
            return TrendPerSecond * halfSpan < offeredRate && Last < 2 * offeredRate;
        }
    }
}
