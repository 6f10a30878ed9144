using System.Diagnostics.Metrics;
using System.Text.Json;
using CtrPipeline.Contracts;

namespace SparkDriver;

/// <summary>What one micro-batch's progress report says, as far as the pipeline watches it.</summary>
/// <param name="RowsDroppedByWatermark">Rows the batch's stateful operators dropped as older than the watermark: Spark's late events.</param>
public sealed record SparkProgress(
    long BatchId, double InputRowsPerSecond, double ProcessedRowsPerSecond, long BatchDurationMs, DateTimeOffset? Watermark, long RowsDroppedByWatermark)
{
    /// <summary>Parses a StreamingQueryProgress JSON (lastProgress / recentProgress).</summary>
    public static SparkProgress Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        double Number(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;
        var duration = root.TryGetProperty("durationMs", out var d) && d.TryGetProperty("triggerExecution", out var t) ? t.GetInt64()
            : root.TryGetProperty("batchDuration", out var b) ? b.GetInt64() : 0;
        DateTimeOffset? watermark = root.TryGetProperty("eventTime", out var e) && e.TryGetProperty("watermark", out var w)
            && DateTimeOffset.TryParse(w.GetString(), out var parsed) ? parsed : null;
        long dropped = 0;
        if (root.TryGetProperty("stateOperators", out var operators) && operators.ValueKind == JsonValueKind.Array)
            foreach (var op in operators.EnumerateArray())
                if (op.TryGetProperty("numRowsDroppedByWatermark", out var n) && n.ValueKind == JsonValueKind.Number) dropped += n.GetInt64();
        return new SparkProgress((long)Number("batchId"), Number("inputRowsPerSecond"), Number("processedRowsPerSecond"), duration, watermark, dropped);
    }
}

/// <summary>
/// The query as Spark reports it, exported as OpenTelemetry instruments of the "CtrPipeline.Spark" meter. The monitor
/// replaces the snapshot; the observable instruments read the newest one when the exporter collects.
/// </summary>
public sealed class SparkMetrics : IDisposable
{
    private readonly Meter _meter = new(PipelineTelemetry.SparkMeter);
    private volatile Snapshot _snapshot = new(false, null);
    private long _droppedByWatermark;

    private sealed record Snapshot(bool Active, SparkProgress? Progress);

    private static readonly KeyValuePair<string, object?> Engine = new("engine", Engines.Spark);

    public SparkMetrics()
    {
        _meter.CreateObservableGauge("ctr.spark.query.active", () => new Measurement<int>(_snapshot.Active ? 1 : 0, Engine),
            "{query}", "1 while the streaming query is active, else 0");
        _meter.CreateObservableGauge("ctr.spark.input_rows_per_second", () => Measure(p => p.InputRowsPerSecond), "{row}/s",
            "Rows per second arriving from Kafka, from the last micro-batch's progress");
        _meter.CreateObservableGauge("ctr.spark.processed_rows_per_second", () => Measure(p => p.ProcessedRowsPerSecond), "{row}/s",
            "Rows per second Spark processed in the last micro-batch");
        _meter.CreateObservableGauge("ctr.spark.batch_duration", () => Measure(p => p.BatchDurationMs), "ms",
            "Duration of the last micro-batch (trigger execution)");
        _meter.CreateObservableGauge("ctr.spark.watermark_delay", () => Measure(p => p.Watermark is { } w ? (DateTimeOffset.UtcNow - w).TotalMilliseconds : null), "ms",
            "How far the query's event-time watermark trails the wall clock");
        _meter.CreateObservableCounter("ctr.spark.rows_dropped_by_watermark", () => new Measurement<long>(Interlocked.Read(ref _droppedByWatermark), Engine),
            "{row}", "Rows dropped as late by the query's stateful operators (numRowsDroppedByWatermark), summed over the batches seen");
    }

    /// <summary>Counts the late rows of a batch seen for the first time.</summary>
    public void AddDroppedByWatermark(long rows) => Interlocked.Add(ref _droppedByWatermark, rows);

    public void Update(bool active, SparkProgress? progress) => _snapshot = new Snapshot(active, progress ?? _snapshot.Progress);

    private IEnumerable<Measurement<double>> Measure(Func<SparkProgress, double?> value) =>
        _snapshot.Progress is { } progress && value(progress) is { } v ? [new Measurement<double>(v, Engine)] : [];

    public void Dispose() => _meter.Dispose();
}
