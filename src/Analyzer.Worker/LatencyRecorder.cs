using Confluent.Kafka;
using CtrPipeline.Contracts;
using HdrHistogram;

namespace Analyzer.Worker;

/// <summary>Percentiles of one latency, in milliseconds, from an HDR histogram.</summary>
public sealed record LatencyPercentiles(long Count, double P50, double P90, double P99, double P999, double Max);

/// <summary>What the analyzer measured for one engine.</summary>
public sealed record EngineLatency(
    string Engine, long Results, long FinalResults, TimestampType TimestampType,
    LatencyPercentiles L1, LatencyPercentiles L2, LatencyPercentiles L2Received, long ClampedNegative);

/// <summary>
/// Per-engine HDR histograms of L1 = computed_at - max_event_kafka_ts, L2 = result Kafka timestamp - computed_at and
/// L2 received = analyzer receipt - computed_at. Values are recorded in microseconds (the inputs have millisecond
/// resolution) with three significant digits; a negative difference (clock skew between hosts) is recorded as 0 and
/// counted. Not thread-safe: the analyzer's consume loop owns it.
/// </summary>
public sealed class LatencyRecorder
{
    private const long HighestTrackableUs = 3_600_000_000; // one hour
    private readonly Dictionary<string, EngineHistograms> _engines = [];

    public long Results { get; private set; }

    public void Record(CtrResult row, Timestamp kafkaTimestamp, long receivedAtMs)
    {
        if (!_engines.TryGetValue(row.Engine, out var h))
            _engines[row.Engine] = h = new EngineHistograms();
        Results++;
        h.Results++;
        if (row.Final) h.Final++;
        h.TimestampType = kafkaTimestamp.Type;
        h.Record(h.L1, row.ComputedAt - row.MaxEventKafkaTs);
        h.Record(h.L2, kafkaTimestamp.UnixTimestampMs - row.ComputedAt);
        h.Record(h.L2Received, receivedAtMs - row.ComputedAt);
    }

    public IReadOnlyList<EngineLatency> Snapshot() =>
        [.. _engines.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new EngineLatency(
            e.Key, e.Value.Results, e.Value.Final, e.Value.TimestampType,
            Percentiles(e.Value.L1), Percentiles(e.Value.L2), Percentiles(e.Value.L2Received), e.Value.ClampedNegative))];

    public void Reset()
    {
        _engines.Clear();
        Results = 0;
    }

    private static LatencyPercentiles Percentiles(HistogramBase h) => h.TotalCount == 0
        ? new LatencyPercentiles(0, 0, 0, 0, 0, 0)
        : new LatencyPercentiles(h.TotalCount, Ms(h.GetValueAtPercentile(50)), Ms(h.GetValueAtPercentile(90)),
            Ms(h.GetValueAtPercentile(99)), Ms(h.GetValueAtPercentile(99.9)), Ms(h.GetMaxValue()));

    private static double Ms(long us) => us / 1000.0;

    private sealed class EngineHistograms
    {
        public readonly LongHistogram L1 = new(HighestTrackableUs, 3);
        public readonly LongHistogram L2 = new(HighestTrackableUs, 3);
        public readonly LongHistogram L2Received = new(HighestTrackableUs, 3);
        public long Results;
        public long Final;
        public long ClampedNegative;
        public TimestampType TimestampType = TimestampType.NotAvailable;

        public void Record(LongHistogram histogram, long ms)
        {
            if (ms < 0)
            {
                ClampedNegative++;
                ms = 0;
            }
            histogram.RecordValue(Math.Min(ms * 1000, HighestTrackableUs));
        }
    }
}
