namespace CtrPipeline.Streaming;

/// <summary>
/// Bounded-out-of-orderness watermarks tracked per partition: each partition's watermark trails the newest event
/// time it delivered by <c>delay</c>; the engine's watermark is the minimum over the partitions that are active.
/// A partition silent for longer than <c>idleTimeout</c> (processing time) stops holding it back, as Flink's
/// <c>withIdleness</c>. The watermark never goes backwards.
/// </summary>
public sealed class WatermarkTracker(long delayMs, long idleTimeoutMs)
{
    private readonly Dictionary<int, Partition> _partitions = [];

    /// <summary>No event can be later than this any more; long.MinValue before any record.</summary>
    public long Current { get; private set; } = long.MinValue;

    public void Observe(int partition, long eventTime, long now)
    {
        if (!_partitions.TryGetValue(partition, out var p))
            _partitions[partition] = p = new Partition { MaxEventTime = long.MinValue };
        if (eventTime > p.MaxEventTime) p.MaxEventTime = eventTime;
        p.LastSeen = now;
    }

    /// <summary>Re-evaluates the watermark at processing time <paramref name="now"/> and returns it.</summary>
    public long Advance(long now)
    {
        var min = long.MaxValue;
        var active = false;
        foreach (var p in _partitions.Values)
        {
            if (now - p.LastSeen >= idleTimeoutMs) continue;
            active = true;
            var wm = p.MaxEventTime == long.MinValue ? long.MinValue : p.MaxEventTime - delayMs;
            if (wm < min) min = wm;
        }
        if (active && min > Current) Current = min;
        return Current;
    }

    /// <summary>End of input: every window may close.</summary>
    public void Finish() => Current = long.MaxValue;

    private sealed class Partition
    {
        public long MaxEventTime;
        public long LastSeen;
    }
}
