using System.Diagnostics.Metrics;
using CtrPipeline.Contracts;

namespace NativeEngine.Worker;

/// <summary>The engine's OpenTelemetry instruments (meter CtrPipeline.Engine), tagged with the engine id.</summary>
internal sealed class EngineMetrics
{
    private static readonly Meter Meter = new(PipelineTelemetry.EngineMeter);
    private static readonly Counter<long> Consumed = Meter.CreateCounter<long>("ctr.engine.events.consumed", "{event}", "Records read from the events topic.");
    private static readonly Counter<long> Late = Meter.CreateCounter<long>("ctr.engine.events.late", "{event}", "Events whose window the watermark had already closed; sent to the late topic.");
    private static readonly Counter<long> Bad = Meter.CreateCounter<long>("ctr.engine.events.bad", "{event}", "Malformed records and unknown ads; sent to the dead-letter topic.");
    private static readonly Counter<long> Published = Meter.CreateCounter<long>("ctr.engine.results.published", "{row}", "CTR rows published to the results topic.");

    private readonly KeyValuePair<string, object?> _engine;

    public EngineMetrics(string engine, Func<EngineProgress> progress)
    {
        _engine = new("engine", engine);
        Meter.CreateObservableGauge("ctr.engine.consumer_lag", () => new Measurement<long>(progress().ConsumerLag, _engine), "{event}", "Records in the events topic the engine has not read yet.");
        Meter.CreateObservableGauge("ctr.engine.open_windows", () => new Measurement<int>(progress().OpenWindows, _engine), "{window}", "Windows the watermark still keeps open (state size).");
        Meter.CreateObservableGauge("ctr.engine.watermark_delay", () =>
        {
            var wm = progress().Watermark;
            return new Measurement<double>(wm is long.MinValue or long.MaxValue ? 0 : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - wm, _engine);
        }, "ms", "Wall clock minus the engine's event-time watermark.");
    }

    public void Record(long consumed, long late, long bad, long published)
    {
        if (consumed > 0) Consumed.Add(consumed, _engine);
        if (late > 0) Late.Add(late, _engine);
        if (bad > 0) Bad.Add(bad, _engine);
        if (published > 0) Published.Add(published, _engine);
    }
}
