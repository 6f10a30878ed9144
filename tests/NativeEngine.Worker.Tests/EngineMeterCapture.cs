using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using CtrPipeline.Contracts;

namespace NativeEngine.Worker.Tests;

/// <summary>Listens to the engine meter: which instruments exist (with their units) and the counters' totals for one engine.</summary>
internal sealed class EngineMeterCapture : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, string?> _units = new();
    private readonly ConcurrentDictionary<string, long> _totals = new();

    public EngineMeterCapture(string engine)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name != PipelineTelemetry.EngineMeter) return;
            _units[instrument.Name] = instrument.Unit;
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag is { Key: "engine", Value: string id } && id == engine && instrument is Counter<long>)
                    _totals.AddOrUpdate(instrument.Name, value, (_, total) => total + value);
        });
        _listener.Start();
    }

    public IReadOnlyDictionary<string, string?> Units => _units;

    public long Total(string counter) => _totals.GetValueOrDefault(counter);

    public void Dispose() => _listener.Dispose();
}
