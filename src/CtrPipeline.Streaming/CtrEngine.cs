using System.Runtime.InteropServices;
using CtrPipeline.Contracts;

namespace CtrPipeline.Streaming;

/// <summary>
/// The native CTR engine: stream-static join with the campaign catalog, tumbling event-time windows per campaign,
/// watermarks, late-record detection, and the two output paradigms (<see cref="ExecutionMode"/>), which share all
/// state and watermark code and differ only in when the watermark advances and what a tick emits.
/// Single-threaded and free of I/O: the host feeds records and ticks and publishes what comes out. A window's state
/// is evicted as soon as its final row is out, so memory is bounded by the windows the watermark keeps open.
/// <para>
/// One invariant drives everything: every window whose end is at or before <see cref="Watermark"/> has been
/// finalized and evicted. A record for such a window is late.
/// </para>
/// </summary>
public sealed class CtrEngine
{
    private readonly CampaignCatalog _catalog;
    private readonly Func<long> _clock;
    private readonly long _windowMs;
    private readonly long _maxSkewMs;
    private readonly WatermarkTracker _watermark;
    private readonly Dictionary<long, Window> _open = [];
    private readonly List<Window> _closing = [];
    private readonly Dictionary<int, long> _nextOffset = [];
    private Window? _lastWindow;
    private long _earliestOpenEnd = long.MaxValue;

    /// <param name="clock">Processing time in epoch milliseconds: drives idleness and stamps computed_at.</param>
    /// <param name="hasBacklog">Whether a silent partition still has records to deliver (see <see cref="WatermarkTracker"/>).</param>
    /// <param name="idleChanged">Hears when the watermark goes on without a partition (true), and when it holds it again.</param>
    public CtrEngine(ExecutionMode mode, PipelineSettings settings, CampaignCatalog catalog, Func<long> clock, Func<int, bool>? hasBacklog = null,
        Action<int, bool>? idleChanged = null)
    {
        Mode = mode;
        EngineId = mode == ExecutionMode.Continuous ? Engines.NativeContinuous : Engines.NativeMicroBatch;
        _catalog = catalog;
        _clock = clock;
        _windowMs = (long)settings.WindowSize.TotalMilliseconds;
        _maxSkewMs = (long)settings.MaxEventTimeSkew.TotalMilliseconds;
        _watermark = new WatermarkTracker((long)settings.WatermarkDelay.TotalMilliseconds, (long)settings.IdleTimeout.TotalMilliseconds, hasBacklog, idleChanged);
        TickInterval = mode == ExecutionMode.Continuous ? settings.WatermarkInterval : settings.TriggerInterval;
    }

    public ExecutionMode Mode { get; }

    /// <summary>The engine id written into every result row.</summary>
    public string EngineId { get; }

    /// <summary>How often the host calls <see cref="Tick"/>: the watermark interval (continuous) or the trigger (micro-batch).</summary>
    public TimeSpan TickInterval { get; }

    /// <summary>Event time up to which every window is final; long.MinValue before any record, long.MaxValue after <see cref="Drain"/>.</summary>
    public long Watermark => _watermark.Current;

    /// <summary>State size: the (window, campaign) rows held by windows that are not final yet.</summary>
    public int OpenWindows { get; private set; }

    public long Accepted { get; private set; }

    public long Late { get; private set; }

    public long UnknownAds { get; private set; }

    /// <summary>Events the event-time guard rejected (<see cref="RecordOutcome.OutOfRange"/>).</summary>
    public long OutOfRange { get; private set; }

    /// <summary>The start of the tumbling window holding <paramref name="eventTime"/>: floor division, also for negative times.</summary>
    public static long WindowStart(long eventTime, long windowMs)
    {
        var remainder = eventTime % windowMs;
        return remainder < 0 ? eventTime - remainder - windowMs : eventTime - remainder;
    }

    /// <summary>
    /// Takes one record. Continuous mode then advances the watermark and appends the final rows of the windows it
    /// closed to <paramref name="output"/>; micro-batch mode only aggregates and waits for its trigger.
    /// </summary>
    public RecordOutcome Process(in StreamRecord record, List<CtrResult> output)
    {
        var now = _clock();
        _nextOffset[record.Partition] = record.Offset + 1;
        if (!AdEvent.IsEventTimeInRange(record.Event.EventTime, now, _maxSkewMs))
        {
            // Decided before the watermark sees it: one event from a broken clock must not close every window.
            OutOfRange++;
            return RecordOutcome.OutOfRange;
        }
        _watermark.Observe(record.Partition, record.Event.EventTime, now);
        var outcome = AddToWindow(record);
        if (Mode == ExecutionMode.Continuous)
            CloseWindows(_watermark.Advance(now), now, output);
        return outcome;
    }

    /// <summary>
    /// The consumer group assigned <paramref name="partitions"/>: each one holds the watermark back until it delivers
    /// or has been idle for the idle timeout (<see cref="WatermarkTracker.Assign"/>). A host that never calls this
    /// gets the old rule: partitions join with their first record.
    /// </summary>
    public void Assign(IEnumerable<int> partitions) => _watermark.Assign(partitions, _clock());

    /// <summary>The group took <paramref name="partitions"/> away: they stop holding the watermark back.</summary>
    public void Revoke(IEnumerable<int> partitions) => _watermark.Revoke(partitions);

    /// <summary>
    /// A record the host handled without the engine (e.g. a malformed one it dead-lettered): it only moves the
    /// partition's commit position, so a restart does not read it again.
    /// </summary>
    public void Skip(int partition, long offset) => _nextOffset[partition] = offset + 1;

    /// <summary>
    /// Periodic work. Both modes advance the watermark (an idle partition may have stopped holding it back) and
    /// finalize the windows it closed. Micro-batch mode is Spark's trigger: it first emits the changed rows of the
    /// windows that stay open (update mode, final=false); the watermark it computes here is the one that judges
    /// lateness until the next trigger.
    /// </summary>
    public void Tick(List<CtrResult> output)
    {
        var now = _clock();
        var watermark = _watermark.Advance(now);
        if (Mode == ExecutionMode.MicroBatch)
            foreach (var window in _open.Values)
                if (window.End > watermark)
                    window.EmitChanged(EngineId, now, output);
        CloseWindows(watermark, now, output);
    }

    /// <summary>End of input (a bounded source is exhausted): the watermark jumps to +infinity and every window is finalized.</summary>
    public void Drain(List<CtrResult> output)
    {
        _watermark.Finish();
        CloseWindows(_watermark.Current, _clock(), output);
    }

    /// <summary>
    /// Per partition, the offset to commit for at-least-once delivery: the smallest offset held by a window that is
    /// not final yet, or the offset after the last record seen when no such window holds one. Committing these once
    /// the rows emitted so far are delivered loses nothing on a restart.
    /// </summary>
    public IReadOnlyDictionary<int, long> SafeCommitOffsets()
    {
        var safe = new Dictionary<int, long>(_nextOffset);
        foreach (var window in _open.Values)
            foreach (var (partition, first) in window.FirstOffsets)
                if (first < safe[partition]) safe[partition] = first;
        return safe;
    }

    private RecordOutcome AddToWindow(in StreamRecord record)
    {
        if (!_catalog.TryGetCampaign(record.Event.AdId, out var campaignId))
        {
            UnknownAds++;
            return RecordOutcome.UnknownAd;
        }
        var start = WindowStart(record.Event.EventTime, _windowMs);
        if (start + _windowMs <= _watermark.Current)
        {
            Late++;
            return RecordOutcome.Late;
        }
        if (WindowAt(start).Add(campaignId, record)) OpenWindows++;
        Accepted++;
        return RecordOutcome.Accepted;
    }

    private Window WindowAt(long start)
    {
        if (_lastWindow?.Start == start) return _lastWindow;
        if (!_open.TryGetValue(start, out var window))
        {
            _open[start] = window = new Window(start, start + _windowMs);
            if (window.End < _earliestOpenEnd) _earliestOpenEnd = window.End;
        }
        return _lastWindow = window;
    }

    /// <summary>Emits final rows for every window ending at or before <paramref name="watermark"/>, oldest first, and evicts them.</summary>
    private void CloseWindows(long watermark, long now, List<CtrResult> output)
    {
        if (_earliestOpenEnd > watermark) return; // the common case: one comparison per record

        _earliestOpenEnd = long.MaxValue;
        foreach (var window in _open.Values)
        {
            if (window.End <= watermark) _closing.Add(window);
            else if (window.End < _earliestOpenEnd) _earliestOpenEnd = window.End;
        }
        _closing.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        foreach (var window in _closing)
        {
            window.EmitFinal(EngineId, now, output);
            OpenWindows -= window.Rows;
            _open.Remove(window.Start);
        }
        _closing.Clear();
        _lastWindow = null;
    }

    /// <summary>One tumbling window: counts per campaign and, per partition, the first offset it holds.</summary>
    private sealed class Window(long start, long end)
    {
        private readonly Dictionary<int, Cell> _cells = [];

        public long Start { get; } = start;
        public long End { get; } = end;
        public int Rows => _cells.Count;
        public Dictionary<int, long> FirstOffsets { get; } = [];

        /// <summary>Counts the record; true when it opened a new (window, campaign) row.</summary>
        public bool Add(int campaignId, in StreamRecord record)
        {
            ref var cell = ref CollectionsMarshal.GetValueRefOrAddDefault(_cells, campaignId, out var existed);
            cell ??= new Cell();
            if (record.Event.EventType == EventType.Click) cell.Clicks++;
            else cell.Views++;
            if (record.KafkaTimestamp > cell.MaxKafkaTs) cell.MaxKafkaTs = record.KafkaTimestamp;
            cell.Changed = true;

            ref var first = ref CollectionsMarshal.GetValueRefOrAddDefault(FirstOffsets, record.Partition, out var held);
            if (!held || record.Offset < first) first = record.Offset;
            return !existed;
        }

        public void EmitChanged(string engine, long now, List<CtrResult> output)
        {
            foreach (var (campaignId, cell) in _cells)
                if (cell.Changed)
                {
                    output.Add(Row(engine, campaignId, cell, now, final: false));
                    cell.Changed = false;
                }
        }

        public void EmitFinal(string engine, long now, List<CtrResult> output)
        {
            foreach (var (campaignId, cell) in _cells)
                output.Add(Row(engine, campaignId, cell, now, final: true));
        }

        private CtrResult Row(string engine, int campaignId, Cell c, long now, bool final) =>
            new(engine, Start, End, campaignId, c.Views, c.Clicks, CtrResult.Rate(c.Views, c.Clicks), c.MaxKafkaTs, now, final);
    }

    private sealed class Cell
    {
        public long Views;
        public long Clicks;
        public long MaxKafkaTs = long.MinValue;
        public bool Changed;
    }
}
