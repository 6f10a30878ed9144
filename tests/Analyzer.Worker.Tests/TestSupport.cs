using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Analyzer.Worker.Tests;

/// <summary>Every measurement the analyzer's meter records while the capture is alive.</summary>
internal sealed class AnalyzerMeterCapture : IDisposable
{
    private readonly MeterListener _listener = new();

    public AnalyzerMeterCapture()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == PipelineTelemetry.AnalyzerMeter) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((i, value, tags, _) => Add(i, value, tags));
        _listener.SetMeasurementEventCallback<long>((i, value, tags, _) => Add(i, value, tags));
        _listener.Start();
    }

    public ConcurrentQueue<(Instrument Instrument, double Value, Dictionary<string, object?> Tags)> Measurements { get; } = new();

    public IEnumerable<double> Values(string instrument, string engine) =>
        Measurements.Where(m => m.Instrument.Name == instrument && Equals(m.Tags["engine"], engine)).Select(m => m.Value);

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        Measurements.Enqueue((instrument, value, new Dictionary<string, object?>(tags.ToArray())));

    public void Dispose() => _listener.Dispose();
}

internal static class Wait
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    public static async Task Until(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Limit, $"gave up waiting for {what}");
            await Task.Delay(20);
        }
    }
}
