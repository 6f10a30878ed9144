using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Analyzer;

/// <summary>
/// Consumes the results topic and measures L1, L2 and L2r for every row (docs/architecture.md): HDR histograms per
/// engine for the run summary, and OpenTelemetry histograms so the latencies show live in the Aspire dashboard.
/// Records that are not result rows are counted and skipped; they never stop the analyzer.
/// </summary>
public sealed class ResultAnalyzer(AnalyzerOptions options, PipelineSettings pipeline, KafkaConnection kafka, ILogger logger)
{
    private static readonly TimeSpan CommitInterval = TimeSpan.FromSeconds(1);

    // From sub-millisecond in-process hops to a minute-long backlog; dense around the window and watermark delays
    // (seconds), where the dashboard's percentiles, interpolated within a bucket, would otherwise be coarse.
    private static readonly double[] LatencyBucketsMs =
        [0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1_000, 1_250, 1_500, 2_000, 2_500, 3_000, 4_000, 5_000,
         7_500, 10_000, 15_000, 20_000, 30_000, 60_000];

    private static readonly Meter Meter = new(PipelineTelemetry.AnalyzerMeter);
    private static readonly Histogram<double> L1 = LatencyHistogram("ctr.analyzer.l1", LatencyDefinitions.L1);
    private static readonly Histogram<double> L2 = LatencyHistogram("ctr.analyzer.l2", LatencyDefinitions.L2);
    private static readonly Histogram<double> L2Received = LatencyHistogram("ctr.analyzer.l2_received", LatencyDefinitions.L2Received);
    private static readonly Counter<long> ResultsCounter =
        Meter.CreateCounter<long>("ctr.analyzer.results", "{row}", "Result rows read from the results topic, by engine and whether the row is final.");
    private static readonly Counter<long> MalformedCounter =
        Meter.CreateCounter<long>("ctr.analyzer.malformed", "{record}", "Records in the results topic that are not result rows; they are skipped.");

    private readonly Lock _gate = new();
    private readonly LatencyRecorder _recorder = new(options.Warmup);
    private readonly TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _malformed;

    /// <summary>Completes once the consumer group has given the analyzer its partitions.</summary>
    public Task Assigned => _assigned.Task;

    /// <summary>Called on the analyzer's thread for every row measured (the benchmark keeps them for its plots).</summary>
    public Action<CtrResult, RowLatency>? RowMeasured { get; init; }

    /// <summary>
    /// The moment the load started (epoch ms), when the caller knows it: the warm-up is counted from it instead of from
    /// the first window the analyzer sees. Call it before the first result row.
    /// </summary>
    public void LoadStarted(long epochMs)
    {
        lock (_gate) _recorder.LoadStartedAt = epochMs;
    }

    /// <summary>Records in the results topic that were not result rows.</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    /// <summary>The latencies per engine so far; safe to call from any thread.</summary>
    public IReadOnlyList<EngineLatency> Snapshot()
    {
        lock (_gate) return _recorder.Snapshot();
    }

    public AnalyzerSummary Summary() => AnalyzerSummary.Of(Snapshot(), Malformed, DateTimeOffset.UtcNow);

    /// <summary>Consumes until <paramref name="cancel"/> fires, then writes a last summary and commits.</summary>
    public Task RunAsync(CancellationToken cancel) =>
        Task.Factory.StartNew(() => Run(cancel), cancel, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken cancel)
    {
        KafkaRefusedException? refused = null; // credentials or certificate refused: retrying cannot mend it
        // The key is never read, so a record with a key that is not text cannot fail the consume call.
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(KafkaClients.Consumer(kafka, options.GroupId, "analyzer"))
            .SetErrorHandler((_, e) =>
            {
                if ((refused ??= KafkaRefusedException.From(e, kafka)) is not null) return;
                logger.LogWarning("Kafka at {Bootstrap}: {Reason}. The client keeps retrying.", kafka.BootstrapServers, e.Reason);
            })
            .SetLogHandler(KafkaClients.LogTo(logger))
            .SetPartitionsAssignedHandler((_, _) => { _assigned.TrySetResult(); })
            .Build();
        consumer.Subscribe(pipeline.Topics.Results);
        logger.LogInformation("Analyzing {Topic} on {Bootstrap}", pipeline.Topics.Results, kafka);

        var clock = Stopwatch.StartNew();
        var nextSummary = options.SummaryInterval;
        var nextCommit = CommitInterval;
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                if (refused is not null) throw refused;
                Poll(consumer);
                if (clock.Elapsed >= nextCommit)
                {
                    CommitQuietly(consumer);
                    nextCommit = clock.Elapsed + CommitInterval;
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

    private void Poll(IConsumer<Ignore, byte[]> consumer)
    {
        try
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(50)) is not { IsPartitionEOF: false } record) return;
            var receivedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            Measure(record, receivedAt);
            consumer.StoreOffset(record);
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            logger.LogWarning("Reading {Topic} failed: {Reason}. The analyzer keeps reading.", pipeline.Topics.Results, e.Error.Reason);
        }
    }

    private void Measure(ConsumeResult<Ignore, byte[]> record, long receivedAt)
    {
        if (TryParse(record.Message.Value, out var reason) is not { } row)
        {
            if (Interlocked.Increment(ref _malformed) == 1)
                logger.LogWarning("Skipping a record at {TopicPartitionOffset} that is not a result row ({Reason}); further ones are only counted.",
                    record.TopicPartitionOffset, reason);
            MalformedCounter.Add(1);
            return;
        }

        RowLatency latency;
        lock (_gate) latency = _recorder.Record(row, record.Message.Timestamp, receivedAt);
        RowMeasured?.Invoke(row, latency);
        var engine = new KeyValuePair<string, object?>("engine", row.Engine);
        ResultsCounter.Add(1, engine, new KeyValuePair<string, object?>("final", row.Final), new KeyValuePair<string, object?>("warmup", latency.Warmup));
        if (latency.Warmup) return; // counted, but the dashboard's percentiles leave the warm-up out like the summary's
        L1.Record(Math.Max(0, latency.L1), engine);
        if (latency.L2 is { } l2) L2.Record(Math.Max(0, l2), engine);
        L2Received.Record(Math.Max(0, latency.L2Received), engine);
        if (KafkaTracing.Extract(record.Message.Headers) is { } parent) Trace(parent, record, row, latency);
    }

    /// <summary>The last span of a traced event's trace: this row read from the results topic, with its latencies.</summary>
    private void Trace(ActivityContext parent, ConsumeResult<Ignore, byte[]> record, CtrResult row, RowLatency latency)
    {
        using var span = KafkaTracing.StartMessaging("process", pipeline.Topics.Results, ActivityKind.Consumer, parent);
        span?.SetRecordPosition(record.Partition.Value, record.Offset.Value)
            .SetRowTags(row)
            .SetTag("ctr.l1_ms", latency.L1)
            .SetTag("ctr.l2_ms", latency.L2)
            .SetTag("ctr.l2_received_ms", latency.L2Received);
    }

    /// <summary>The result row, or null with the reason when the record is not one.</summary>
    private static CtrResult? TryParse(byte[]? value, out string reason)
    {
        try
        {
            var row = WireFormat.ParseResult(value);
            reason = "the engine is missing";
            return string.IsNullOrEmpty(row.Engine) ? null : row;
        }
        catch (JsonException e)
        {
            reason = e.Message;
            return null;
        }
    }

    private void CommitQuietly(IConsumer<Ignore, byte[]> consumer)
    {
        try { consumer.Commit(); }
        catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_NoOffset) { }
        catch (KafkaException e) { logger.LogWarning("Offset commit failed: {Reason}", e.Error.Reason); }
    }

    private void Summarize()
    {
        var summary = Summary();
        if (summary.Engines.Count > 0 || summary.Malformed > 0)
            logger.LogInformation("Latency summary\n{Summary}", summary.ToTable());
        if (options.SummaryPath is { Length: > 0 } path) Write(summary, path);
    }

    private void Write(AnalyzerSummary summary, string path)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            // Replace the file in one step, so a reader never sees half a summary.
            var partial = path + ".partial";
            File.WriteAllText(partial, summary.ToJson());
            File.Move(partial, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Could not write the summary to {Path}: {Reason}", path, e.Message);
        }
    }

    private static Histogram<double> LatencyHistogram(string name, string description) =>
        Meter.CreateHistogram(name, "ms", description, tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBucketsMs });
}
