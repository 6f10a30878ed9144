using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Microsoft.Extensions.Logging;

namespace Analyzer.Worker;

/// <summary>
/// Consumes the results topic and measures L1 and L2 for every row (DESIGN.md section 1): HDR histograms per engine for
/// the run summary, and OpenTelemetry histograms so the latencies show live in the Aspire dashboard.
/// </summary>
public sealed class ResultAnalyzer(AnalyzerOptions options, PipelineSettings pipeline, string bootstrapServers, ILogger<ResultAnalyzer> logger)
{
    private static readonly double[] LatencyBucketsMs =
        [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000];

    private static readonly Meter Meter = new(PipelineTelemetry.AnalyzerMeter);
    private static readonly Histogram<double> L1 = Meter.CreateHistogram("ctr.analyzer.l1", "ms",
        "L1, processing latency: computed_at minus the Kafka timestamp of the newest event in the row.", null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBucketsMs });
    private static readonly Histogram<double> L2 = Meter.CreateHistogram("ctr.analyzer.l2", "ms",
        "L2, sink latency: the result's Kafka timestamp minus computed_at.", null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBucketsMs });
    private static readonly Histogram<double> L2Received = Meter.CreateHistogram("ctr.analyzer.l2_received", "ms",
        "Computed_at to the analyzer holding the row (broker and fetch included).", null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBucketsMs });
    private static readonly Counter<long> ResultsCounter = Meter.CreateCounter<long>("ctr.analyzer.results", "{row}", "Result rows read from the results topic.");
    private static readonly Counter<long> MalformedCounter = Meter.CreateCounter<long>("ctr.analyzer.malformed", "{row}", "Records in the results topic that are not result rows.");

    private readonly Lock _gate = new();
    private readonly LatencyRecorder _recorder = new();
    private readonly TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _malformed;

    public IReadOnlyList<EngineLatency> Snapshot()
    {
        lock (_gate) return _recorder.Snapshot();
    }

    /// <summary>Completes once the consumer group has given the analyzer its partitions.</summary>
    public Task Assigned => _assigned.Task;

    public long Malformed => Interlocked.Read(ref _malformed);

    public Task RunAsync(CancellationToken cancel) =>
        Task.Factory.StartNew(() => Run(cancel), cancel, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken cancel)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(KafkaClients.Consumer(bootstrapServers, options.GroupId, "analyzer"))
            .SetErrorHandler((_, e) => logger.LogWarning("Kafka at {Bootstrap}: {Reason}. The client keeps retrying.", bootstrapServers, e.Reason))
            .SetPartitionsAssignedHandler((_, _) => { _assigned.TrySetResult(); })
            .Build();
        consumer.Subscribe(pipeline.Topics.Results);
        logger.LogInformation("Analyzing {Topic} on {Bootstrap}", pipeline.Topics.Results, bootstrapServers);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var nextSummary = options.SummaryInterval;
        var nextCommit = TimeSpan.FromSeconds(1);
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(50));
                if (r is not null && !r.IsPartitionEOF)
                {
                    var receivedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                    consumer.StoreOffset(r);
                    Measure(r, receivedAt);
                }
                if (clock.Elapsed >= nextCommit)
                {
                    CommitQuietly(consumer);
                    nextCommit = clock.Elapsed + TimeSpan.FromSeconds(1);
                }
                if (clock.Elapsed >= nextSummary)
                {
                    Summarize();
                    nextSummary = clock.Elapsed + options.SummaryInterval;
                }
            }
        }
        finally
        {
            Summarize();
            CommitQuietly(consumer);
            consumer.Close();
        }
    }

    private void Measure(ConsumeResult<string, byte[]> r, long receivedAt)
    {
        CtrResult row;
        try
        {
            row = WireFormat.ParseResult(r.Message.Value);
        }
        catch (JsonException e)
        {
            if (Interlocked.Increment(ref _malformed) == 1)
                logger.LogWarning("Skipping a record in {Topic} that is not a result row ({Reason}); further ones are only counted.", r.Topic, e.Message);
            MalformedCounter.Add(1);
            return;
        }

        lock (_gate) _recorder.Record(row, r.Message.Timestamp, receivedAt);
        var engine = new KeyValuePair<string, object?>("engine", row.Engine);
        L1.Record(Math.Max(0, row.ComputedAt - row.MaxEventKafkaTs), engine);
        L2.Record(Math.Max(0, r.Message.Timestamp.UnixTimestampMs - row.ComputedAt), engine);
        L2Received.Record(Math.Max(0, receivedAt - row.ComputedAt), engine);
        ResultsCounter.Add(1, engine, new KeyValuePair<string, object?>("final", row.Final));
    }

    private void CommitQuietly(IConsumer<string, byte[]> consumer)
    {
        try { consumer.Commit(); }
        catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_NoOffset) { }
        catch (KafkaException e) { logger.LogWarning("Offset commit failed: {Reason}", e.Error.Reason); }
    }

    private void Summarize()
    {
        var snapshot = Snapshot();
        if (snapshot.Count == 0) return;
        logger.LogInformation("{Summary}", Format(snapshot));
        if (options.SummaryPath is { Length: > 0 } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            File.WriteAllText(path, JsonSerializer.Serialize(snapshot, AnalyzerJson.Default.IReadOnlyListEngineLatency));
        }
    }

    /// <summary>A compact table: one line per engine.</summary>
    public static string Format(IReadOnlyList<EngineLatency> snapshot)
    {
        var text = new StringBuilder("engine              results     L1 p50    L1 p99    L2 p99   L2r p99  timestamps");
        foreach (var e in snapshot)
            text.Append(CultureInfo.InvariantCulture,
                $"\n{e.Engine,-18} {e.Results,8} {e.L1.P50,8:0.#}ms {e.L1.P99,7:0.#}ms {e.L2.P99,7:0.#}ms {e.L2Received.P99,7:0.#}ms  {e.TimestampType}");
        if (snapshot.Any(e => e.TimestampType == TimestampType.CreateTime))
            text.Append("\n(CreateTime: the broker keeps the producer's timestamps, so L2 ends at the engine's send; L2r includes the broker and the fetch.)");
        return text.ToString();
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(IReadOnlyList<EngineLatency>))]
internal sealed partial class AnalyzerJson : JsonSerializerContext;
