using System.Diagnostics.Metrics;
using CtrPipeline.Contracts;

namespace CtrPipeline.Streaming;

/// <summary>
/// An engine worker's OpenTelemetry instruments (meter CtrPipeline.Engine), tagged engine=&lt;id&gt;. Counters are fed
/// with the increase since the last report, so the per-record path never touches them.
/// </summary>
public sealed class EngineMetrics : IDisposable
{
    private readonly Meter _meter = new(PipelineTelemetry.EngineMeter);
    private readonly Counter<long> _consumed;
    private readonly Counter<long> _late;
    private readonly Counter<long> _bad;
    private readonly Counter<long> _published;
    private readonly Counter<long> _idled;
    private readonly KeyValuePair<string, object?> _engine;
    private EngineProgress _reported = EngineProgress.None;

    public EngineMetrics(string engine, Func<EngineProgress> progress)
    {
        _engine = new("engine", engine);
        _consumed = _meter.CreateCounter<long>("ctr.engine.events.consumed", "{event}", "Records read from the events topic.");
        _late = _meter.CreateCounter<long>("ctr.engine.events.late", "{event}", "Events whose window the watermark had already closed; sent to the late topic.");
        _bad = _meter.CreateCounter<long>("ctr.engine.events.bad", "{event}", "Malformed records and unknown ads; sent to the dead-letter topic.");
        _published = _meter.CreateCounter<long>("ctr.engine.results.published", "{row}", "CTR rows handed to the producer for the results topic.");
        _idled = _meter.CreateCounter<long>("ctr.engine.partitions.idled", "{partition}",
            "Times the watermark went on without a partition that was silent for the idle timeout with nothing left to read.");
        _meter.CreateObservableGauge("ctr.engine.consumer_lag", () => new Measurement<long>(progress().ConsumerLag, _engine),
            "{event}", "Records in the assigned events partitions that the engine has not read yet.");
        _meter.CreateObservableGauge("ctr.engine.open_windows", () => new Measurement<int>(progress().OpenWindows, _engine),
            "{row}", "(window, campaign) rows the watermark still keeps open: the engine's state size.");
        _meter.CreateObservableGauge("ctr.engine.watermark_delay", () => WatermarkDelay(progress().Watermark),
            "ms", "Wall clock minus the event-time watermark; absent before the first record and after the drain.");
    }

    public void Report(EngineProgress now)
    {
        Add(_consumed, now.Consumed - _reported.Consumed);
        Add(_late, now.Late - _reported.Late);
        Add(_bad, now.Bad - _reported.Bad);
        Add(_published, now.ResultsPublished - _reported.ResultsPublished);
        _reported = now;
    }

    /// <summary>The watermark went on without a partition (<see cref="WatermarkTracker"/>'s idleness).</summary>
    public void PartitionIdled() => _idled.Add(1, _engine);

    public void Dispose() => _meter.Dispose();

    private void Add(Counter<long> counter, long increase)
    {
        if (increase > 0) counter.Add(increase, _engine);
    }

    private IEnumerable<Measurement<long>> WatermarkDelay(long watermark) =>
        watermark is long.MinValue or long.MaxValue
            ? []
            : [new Measurement<long>(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - watermark, _engine)];
}
