using CtrPipeline.Contracts;

namespace CtrPipeline.Streaming;

/// <summary>
/// The native CTR engine: stream-static join with the campaign catalog, tumbling event-time windows per campaign,
/// watermarks, late-record detection, and the two output paradigms (<see cref="ExecutionMode"/>). Single-threaded and
/// free of I/O: the host feeds records and ticks and publishes what comes out. Window state is evicted as soon as a
/// window is final, so memory stays bounded by the windows the watermark still keeps open.
/// </summary>
public sealed class CtrEngine
{
    private readonly string _engineId;
    private readonly CampaignCatalog _catalog;
    private readonly Func<long> _clock;
    private readonly long _windowMs;
    private readonly WatermarkTracker _watermark;
    private readonly SortedDictionary<long, Window> _open = [];
    private readonly Dictionary<int, long> _nextOffset = [];
    private Window? _lastWindow;

    /// <summary>The watermark that decides lateness: the live one (continuous) or the previous trigger's (micro-batch, as Spark).</summary>
    private long _latenessWatermark = long.MinValue;

    public CtrEngine(string engineId, ExecutionMode mode, PipelineSettings settings, CampaignCatalog catalog, Func<long> clock)
    {
        _engineId = engineId;
        Mode = mode;
        _catalog = catalog;
        _clock = clock;
        _windowMs = (long)settings.WindowSize.TotalMilliseconds;
        _watermark = new WatermarkTracker((long)settings.WatermarkDelay.TotalMilliseconds, (long)settings.IdleTimeout.TotalMilliseconds);
        TickInterval = mode == ExecutionMode.Continuous ? settings.WatermarkInterval : settings.TriggerInterval;
    }

    public ExecutionMode Mode { get; }

    /// <summary>How often the host must call <see cref="Tick"/>: the watermark interval, or the micro-batch trigger.</summary>
    public TimeSpan TickInterval { get; }

    public long Watermark => _watermark.Current;

    public int OpenWindows => _open.Count;

    public long Accepted { get; private set; }

    public long Late { get; private set; }

    public long UnknownAds { get; private set; }

    public static long WindowStart(long eventTime, long windowMs) => eventTime - (((eventTime % windowMs) + windowMs) % windowMs);

    /// <summary>Takes one record; in continuous mode, rows whose window the watermark has now closed go to <paramref name="output"/>.</summary>
    public RecordOutcome Process(in StreamRecord record, List<CtrResult> output)
    {
        var now = _clock();
        _nextOffset[record.Partition] = record.Offset + 1;
        var e = record.Event;
        _watermark.Observe(record.Partition, e.EventTime, now);

        RecordOutcome outcome;
        if (!_catalog.TryGetCampaign(e.AdId, out var campaignId))
        {
            UnknownAds++;
            outcome = RecordOutcome.UnknownAd;
        }
        else
        {
            var start = WindowStart(e.EventTime, _windowMs);
            if (start + _windowMs <= _latenessWatermark)
            {
                Late++;
                outcome = RecordOutcome.Late;
            }
            else
            {
                WindowFor(start).Add(campaignId, e.EventType, record);
                Accepted++;
                outcome = RecordOutcome.Accepted;
            }
        }

        if (Mode == ExecutionMode.Continuous)
        {
            _latenessWatermark = _watermark.Advance(now);
            EmitClosed(output, now);
        }
        return outcome;
    }

    /// <summary>
    /// Periodic work: continuous mode re-evaluates the watermark (a partition may have gone idle); micro-batch mode
    /// runs its trigger — changed rows of open windows (final=false), then final rows of the windows behind the watermark.
    /// </summary>
    public void Tick(List<CtrResult> output)
    {
        var now = _clock();
        var watermark = _watermark.Advance(now);
        if (Mode == ExecutionMode.MicroBatch)
            foreach (var window in _open.Values)
                if (window.End > watermark)
                    window.EmitChanged(_engineId, now, output);
        _latenessWatermark = watermark;
        EmitClosed(output, now);
    }

    /// <summary>End of input (a bounded source is exhausted): the watermark jumps to +infinity and every window closes.</summary>
    public void Drain(List<CtrResult> output)
    {
        _watermark.Finish();
        _latenessWatermark = _watermark.Current;
        EmitClosed(output, _clock());
    }

    /// <summary>
    /// Per partition, the offset up to which every record has been fully accounted for in emitted results: the
    /// smallest offset still held by an open window, or the next offset when no open window holds one. Committing these
    /// after the emitted rows are delivered loses nothing on a restart (at-least-once).
    /// </summary>
    public IReadOnlyDictionary<int, long> SafeCommitOffsets()
    {
        var safe = new Dictionary<int, long>(_nextOffset);
        foreach (var window in _open.Values)
            foreach (var (partition, first) in window.FirstOffsets)
                if (first < safe[partition]) safe[partition] = first;
        return safe;
    }

    private Window WindowFor(long start)
    {
        if (_lastWindow?.Start == start) return _lastWindow;
        if (!_open.TryGetValue(start, out var window))
            _open[start] = window = new Window(start, start + _windowMs);
        return _lastWindow = window;
    }

    private void EmitClosed(List<CtrResult> output, long now)
    {
        while (_open.Count > 0)
        {
            var (start, window) = _open.First();
            if (window.End > _latenessWatermark) return;
            window.EmitFinal(_engineId, now, output);
            _open.Remove(start);
            if (ReferenceEquals(_lastWindow, window)) _lastWindow = null;
        }
    }

    /// <summary>One tumbling window: counts per campaign and, per partition, the first offset it holds.</summary>
    private sealed class Window(long start, long end)
    {
        private readonly Dictionary<int, Cell> _cells = [];

        public long Start { get; } = start;
        public long End { get; } = end;
        public Dictionary<int, long> FirstOffsets { get; } = [];

        public void Add(int campaignId, EventType type, in StreamRecord record)
        {
            if (!_cells.TryGetValue(campaignId, out var cell))
                _cells[campaignId] = cell = new Cell();
            if (type == EventType.Click) cell.Clicks++;
            else cell.Views++;
            if (record.KafkaTimestamp > cell.MaxKafkaTs) cell.MaxKafkaTs = record.KafkaTimestamp;
            cell.Changed = true;
            FirstOffsets.TryAdd(record.Partition, record.Offset); // offsets grow within a partition
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
