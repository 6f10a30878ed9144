using Confluent.Kafka;
using CtrPipeline.Contracts;
using HdrHistogram;

namespace CtrPipeline.Analyzer;

/// <summary>What each latency measures; the same words go to the metrics, the summary file and the docs.</summary>
public static class LatencyDefinitions
{
    public const string L1 =
        "L1, processing latency: computed_at minus max_event_kafka_ts (the Kafka timestamp of the newest event in the row).";

    public const string L2 =
        "L2, sink latency: the result record's Kafka timestamp minus computed_at. With CreateTime timestamps it ends at the engine's produce call.";

    public const string L2Received =
        "L2r, received latency: the analyzer's wall clock when it consumed the result minus computed_at (broker, fetch and polling included).";

    public const string CreateTimeNote =
        "The results topic carries CreateTime timestamps (the broker keeps the producer's clock), so L2 only spans computed_at to the engine's produce call; L2r also covers the broker and the fetch.";
}

/// <summary>The distribution of one latency for one engine, in milliseconds.</summary>
/// <param name="ClampedNegative">Rows whose difference was negative (clocks of two hosts disagree), recorded as 0.</param>
public sealed record LatencyPercentiles(long Count, double P50, double P90, double P99, double P999, double Max, long ClampedNegative);

/// <summary>What the analyzer measured for one engine.</summary>
/// <param name="TimestampType">Kafka timestamp type of the engine's latest result record.</param>
/// <param name="L2">Rows without a Kafka timestamp (NotAvailable) are left out of L2, so its count can be below <paramref name="Results"/>.</param>
/// <param name="WarmupResults">Rows of the warm-up, counted in <paramref name="Results"/> but left out of every percentile.</param>
/// <param name="WarmupEnd">Epoch ms: rows whose newest event reached Kafka before this are warm-up; null before the first row.</param>
public sealed record EngineLatency(
    string Engine, long Results, long FinalResults, TimestampType TimestampType,
    LatencyPercentiles L1, LatencyPercentiles L2, LatencyPercentiles L2Received, long WarmupResults = 0, long? WarmupEnd = null);

/// <summary>The three latencies of one result row in milliseconds, as measured (negative under clock skew).</summary>
/// <param name="L2">Null when the record has no Kafka timestamp.</param>
/// <param name="Warmup">The row belongs to the engine's warm-up: it is counted, but no percentile includes it.</param>
public readonly record struct RowLatency(long L1, long? L2, long L2Received, bool Warmup = false)
{
    public static RowLatency Of(CtrResult row, Timestamp kafkaTimestamp, long receivedAtMs, bool warmup = false) => new(
        row.ComputedAt - row.MaxEventKafkaTs,
        kafkaTimestamp.Type == TimestampType.NotAvailable ? null : kafkaTimestamp.UnixTimestampMs - row.ComputedAt,
        receivedAtMs - row.ComputedAt,
        warmup);
}

/// <summary>
/// Per-engine HDR histograms of L1, L2 and L2r (see <see cref="LatencyDefinitions"/>). Values are recorded in whole
/// milliseconds, the resolution of every input, with three significant digits: exact below 2048 ms, within 0.1% above.
/// A negative difference is recorded as 0 and counted; anything above one hour is recorded as one hour.
/// <para>
/// Warm-up: the rows whose newest event reached Kafka within the first <c>warmup</c> of the load, and at least within
/// its first window, are counted but left out of the histograms, so start-up (group joins, JIT, caches) does not show
/// as the engine's latency. The load start is <see cref="LoadStartedAt"/> when the caller knows it (the benchmark), else
/// the start of the first window the engine's first row belongs to (never later than the real start).
/// </para>
/// Not thread-safe: the analyzer's consume loop owns it.
/// </summary>
public sealed class LatencyRecorder(TimeSpan warmup = default)
{
    public const long HighestTrackableMs = 3_600_000;

    private readonly Dictionary<string, EngineHistograms> _engines = new(StringComparer.Ordinal);
    private readonly long _warmupMs = (long)warmup.TotalMilliseconds;

    /// <summary>Epoch ms when the load started, if known; set it before the first row.</summary>
    public long? LoadStartedAt { get; set; }

    /// <summary>Records one result row; returns its latencies as measured, before clamping.</summary>
    public RowLatency Record(CtrResult row, Timestamp kafkaTimestamp, long receivedAtMs)
    {
        ArgumentException.ThrowIfNullOrEmpty(row.Engine, nameof(row));
        if (!_engines.TryGetValue(row.Engine, out var engine))
            _engines[row.Engine] = engine = new EngineHistograms();

        engine.WarmupEnd ??= _warmupMs <= 0 ? long.MinValue
            : (LoadStartedAt ?? row.WindowStart) + Math.Max(_warmupMs, row.WindowEnd - row.WindowStart);
        var latency = RowLatency.Of(row, kafkaTimestamp, receivedAtMs, warmup: row.MaxEventKafkaTs < engine.WarmupEnd);
        engine.Results++;
        if (row.Final) engine.FinalResults++;
        engine.TimestampType = kafkaTimestamp.Type;
        if (latency.Warmup)
        {
            engine.WarmupResults++;
            return latency;
        }
        engine.L1.Record(latency.L1);
        if (latency.L2 is { } l2) engine.L2.Record(l2);
        engine.L2Received.Record(latency.L2Received);
        return latency;
    }

    /// <summary>One entry per engine seen since the last reset, ordered by engine id.</summary>
    public IReadOnlyList<EngineLatency> Snapshot() =>
        [.. _engines.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new EngineLatency(
            e.Key, e.Value.Results, e.Value.FinalResults, e.Value.TimestampType,
            e.Value.L1.Percentiles(), e.Value.L2.Percentiles(), e.Value.L2Received.Percentiles(),
            e.Value.WarmupResults, e.Value.WarmupEnd is long.MinValue ? null : e.Value.WarmupEnd))];

    public void Reset() => _engines.Clear();

    private sealed class EngineHistograms
    {
        public readonly LatencyHistogram L1 = new();
        public readonly LatencyHistogram L2 = new();
        public readonly LatencyHistogram L2Received = new();
        public long Results;
        public long FinalResults;
        public long WarmupResults;
        public long? WarmupEnd;
        public TimestampType TimestampType = TimestampType.NotAvailable;
    }

    private sealed class LatencyHistogram
    {
        private readonly LongHistogram _histogram = new(HighestTrackableMs, 3);
        private long _clampedNegative;

        public void Record(long ms)
        {
            if (ms < 0)
            {
                _clampedNegative++;
                ms = 0;
            }
            _histogram.RecordValue(Math.Min(ms, HighestTrackableMs));
        }

        public LatencyPercentiles Percentiles() => _histogram.TotalCount == 0
            ? new LatencyPercentiles(0, 0, 0, 0, 0, 0, 0)
            : new LatencyPercentiles(_histogram.TotalCount,
                _histogram.GetValueAtPercentile(50), _histogram.GetValueAtPercentile(90), _histogram.GetValueAtPercentile(99),
                _histogram.GetValueAtPercentile(99.9), _histogram.GetMaxValue(), _clampedNegative);
    }
}
