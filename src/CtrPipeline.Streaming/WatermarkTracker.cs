namespace CtrPipeline.Streaming;

/// <summary>
/// Bounded-out-of-orderness watermarks tracked per partition: each partition's watermark trails the newest event
/// time it delivered by <c>delayMs</c>; the engine's watermark is the minimum over the partitions that are active.
/// A partition silent for <c>idleTimeoutMs</c> of processing time stops holding it back (Flink's <c>withIdleness</c>).
/// The watermark never goes backwards.
/// <para>
/// Partitions join either when the host says the consumer group assigned them (<see cref="Assign"/>) or, for a host
/// that never calls it, with their first record. An assigned partition that has not delivered yet holds the
/// watermark where it is until it delivers or has been silent for the idle timeout since its assignment: after a
/// restart, the first partition to deliver must not close windows whose events other partitions still hold in their
/// backlog.
/// </para>
/// <para>
/// Idle means silent while the others deliver. When every partition has been silent for the idle timeout (the broker
/// was away, shorter than the session timeout, so nothing was re-assigned; or the input paused), the first record
/// after the silence makes every partition count as active again: each holds the watermark until it delivers or idles
/// anew, so the first partition to deliver after an outage cannot close the windows the others still hold.
/// </para>
/// <para>
/// And idle means nothing left to read: a silent partition for which <c>hasBacklog</c> says the broker holds records
/// the consumer has not read yet (its fetches stalled, e.g. after an outage) is slow, not idle, and keeps holding the
/// watermark back. Without a probe (tests, hosts without a broker) silence alone decides. The probe is asked at most
/// once per partition every <see cref="BacklogCheckIntervalMs"/>: a continuous engine advances the watermark per
/// record, and a lagging consumer's partitions fall silent in turn, so without the limit the client would be asked
/// for every record while its answer changes only with the fetches.
/// </para>
/// <para>
/// Going on without a partition is never silent: <c>idleChanged</c> hears when a partition stops holding the watermark
/// back (true) and when it holds it again (false), so the host can say so in its log and metrics.
/// </para>
/// </summary>
public sealed class WatermarkTracker(long delayMs, long idleTimeoutMs, Func<int, bool>? hasBacklog = null, Action<int, bool>? idleChanged = null)
{
    /// <summary>How long a silent partition's backlog answer is reused.</summary>
    public const long BacklogCheckIntervalMs = 100;

    private readonly Dictionary<int, Partition> _partitions = [];
    private long _lastRecord = long.MinValue;

    /// <summary>No accepted event can be older than this any more; long.MinValue before any record.</summary>
    public long Current { get; private set; } = long.MinValue;

    /// <summary>
    /// The consumer group assigned <paramref name="partitions"/> at processing time <paramref name="now"/>: each one
    /// holds the watermark back until it delivers a record or stays silent for the idle timeout from now. A partition
    /// already tracked keeps the newest event time it delivered but counts as active again: assigned anew after the
    /// group lost it (a broker outage longer than the session timeout), it may have a backlog to deliver.
    /// </summary>
    public void Assign(IEnumerable<int> partitions, long now)
    {
        foreach (var partition in partitions)
        {
            if (_partitions.TryGetValue(partition, out var p)) p.LastSeen = now;
            else _partitions[partition] = new Partition { MaxEventTime = long.MinValue, LastSeen = now };
        }
    }

    /// <summary>The group took <paramref name="partitions"/> away: they stop holding the watermark back.</summary>
    public void Revoke(IEnumerable<int> partitions)
    {
        foreach (var partition in partitions)
            _partitions.Remove(partition);
    }

    /// <summary>Notes a record of <paramref name="partition"/> with <paramref name="eventTime"/>, seen at processing time <paramref name="now"/>.</summary>
    public void Observe(int partition, long eventTime, long now)
    {
        if (_lastRecord != long.MinValue && now - _lastRecord >= idleTimeoutMs)
            foreach (var silent in _partitions.Values) silent.LastSeen = now;
        _lastRecord = now;
        if (!_partitions.TryGetValue(partition, out var p))
            _partitions[partition] = p = new Partition { MaxEventTime = eventTime };
        else if (eventTime > p.MaxEventTime)
            p.MaxEventTime = eventTime;
        p.LastSeen = now;
        SetIdle(partition, p, false);
    }

    /// <summary>Re-evaluates the watermark at processing time <paramref name="now"/> and returns it.</summary>
    public long Advance(long now)
    {
        var min = long.MaxValue;
        var anyActive = false;
        foreach (var (partition, p) in _partitions)
        {
            var idle = now - p.LastSeen >= idleTimeoutMs && !HasBacklog(partition, p, now);
            SetIdle(partition, p, idle);
            if (idle) continue;
            anyActive = true;
            // Saturate instead of wrapping around for event times within delayMs of long.MinValue; an assigned
            // partition that has delivered nothing yet (long.MinValue) holds the watermark where it is.
            var watermark = p.MaxEventTime < long.MinValue + delayMs ? long.MinValue : p.MaxEventTime - delayMs;
            if (watermark < min) min = watermark;
        }
        if (anyActive && min > Current) Current = min;
        return Current;
    }

    private bool HasBacklog(int partition, Partition p, long now)
    {
        if (hasBacklog is null) return false;
        if (p.BacklogCheckedAt is not { } checkedAt || now - checkedAt >= BacklogCheckIntervalMs)
        {
            p.Backlogged = hasBacklog(partition);
            p.BacklogCheckedAt = now;
        }
        return p.Backlogged;
    }

    private void SetIdle(int partition, Partition p, bool idle)
    {
        if (p.Idle == idle) return;
        p.Idle = idle;
        idleChanged?.Invoke(partition, idle);
    }

    /// <summary>End of input (Flink's MAX_WATERMARK): every window may close.</summary>
    public void Finish() => Current = long.MaxValue;

    private sealed class Partition
    {
        public long MaxEventTime;
        public long LastSeen;
        public long? BacklogCheckedAt;
        public bool Backlogged;
        public bool Idle;
    }
}
