using System.Diagnostics.Metrics;
using CtrPipeline.Contracts;

namespace FlinkGateway;

/// <summary>
/// The job as Flink reports it, exported as OpenTelemetry instruments of the "CtrPipeline.Flink" meter: whether it runs,
/// records in and out of each vertex, and each vertex's back pressure. The monitor replaces the snapshot; the
/// observable instruments read the newest one when the exporter collects.
/// </summary>
public sealed class FlinkMetrics : IDisposable
{
    private readonly Meter _meter = new(PipelineTelemetry.FlinkMeter);
    private volatile Snapshot _snapshot = new("", [], new Dictionary<string, FlinkBackPressure>());

    private sealed record Snapshot(string State, IReadOnlyList<FlinkVertex> Vertices, IReadOnlyDictionary<string, FlinkBackPressure> BackPressure);

    public FlinkMetrics()
    {
        _meter.CreateObservableGauge("ctr.flink.job.running", () => new Measurement<int>(_snapshot.State == "RUNNING" ? 1 : 0, Engine),
            "{job}", "1 while the Flink job is RUNNING, else 0");
        _meter.CreateObservableCounter("ctr.flink.vertex.records_in",
            () => _snapshot.Vertices.Select(v => new Measurement<long>(v.RecordsIn, Tags(v))), "{record}",
            "Records a vertex (operator chain) read from its inputs inside Flink; sources read from Kafka and report 0");
        _meter.CreateObservableCounter("ctr.flink.vertex.records_out",
            () => _snapshot.Vertices.Select(v => new Measurement<long>(v.RecordsOut, Tags(v))), "{record}",
            "Records a vertex (operator chain) wrote to the next one inside Flink; sinks write to Kafka and report 0");
        _meter.CreateObservableGauge("ctr.flink.vertex.backpressure",
            () => _snapshot.Vertices.Where(v => _snapshot.BackPressure.ContainsKey(v.Id))
                .Select(v => new Measurement<double>(_snapshot.BackPressure[v.Id].MaxRatio, Tags(v))), "1",
            "Highest back-pressured time ratio over the vertex's subtasks (0 = never blocked, 1 = always)");
    }

    public void Update(FlinkJobDetails job, IReadOnlyDictionary<string, FlinkBackPressure> backPressure) =>
        _snapshot = new Snapshot(job.State, job.Vertices, backPressure);

    public void Dispose() => _meter.Dispose();

    private static readonly KeyValuePair<string, object?> Engine = new("engine", Engines.Flink);

    /// <summary>Flink names a vertex after its whole operator chain; the first 80 characters tell them apart.</summary>
    private static KeyValuePair<string, object?>[] Tags(FlinkVertex vertex) =>
        [Engine, new("vertex", vertex.Name.Length <= 80 ? vertex.Name : vertex.Name[..80])];
}
