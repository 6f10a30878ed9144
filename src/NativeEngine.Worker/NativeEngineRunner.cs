using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.Streaming;
using Microsoft.Extensions.Logging;

namespace NativeEngine.Worker;

/// <summary>
/// Runs a <see cref="CtrEngine"/> against Kafka: consumes the events topic, publishes CTR rows (key = campaign id),
/// dead-letters malformed records and unknown ads (headers "error" and "engine"), sends late records to the late
/// topic (header "engine"), and commits offsets.
/// <para>
/// Delivery guarantee: at-least-once. Every <see cref="EngineOptions.CommitInterval"/> the producer is flushed, and
/// only once everything emitted so far is delivered are offsets committed, each partition's no further than the first
/// record still held by a window that is not final (<see cref="CtrEngine.SafeCommitOffsets"/>). After the first
/// failed delivery nothing is committed any more, so a restart brings the lost output back.
/// </para>
/// <para>
/// What a restart does: the group resumes every partition at its last committed offset, and the engine starts empty
/// with its watermark at minus infinity. It re-reads and re-counts all events of the windows that were open at the
/// last commit, so their rows come out complete: nothing is lost. What can repeat: rows emitted after the last commit
/// are emitted again, and replayed events that belong to a window already final before that commit (disorder within
/// the watermark delay) make an extra final row for it with a partial count, since the fresh watermark cannot know the
/// window was closed. A reader that needs one row per (engine, window, campaign) keeps the first final row it sees:
/// that one is complete.
/// </para>
/// </summary>
public sealed class NativeEngineRunner : IEngineRunner
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LagInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CommitFlushTimeout = TimeSpan.FromSeconds(5);

    private readonly EngineOptions _options;
    private readonly PipelineSettings _pipeline;
    private readonly CampaignCatalog _catalog;
    private readonly string _bootstrapServers;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _drainRequested;
    private volatile EngineProgress _progress = EngineProgress.None;
    private volatile EngineKafka? _kafka;

    public NativeEngineRunner(EngineOptions options, PipelineSettings pipeline, CampaignCatalog catalog, string bootstrapServers, ILogger logger)
    {
        _options = options.Validate();
        _pipeline = pipeline;
        _catalog = catalog;
        _bootstrapServers = bootstrapServers;
        _logger = logger;
    }

    /// <summary>The latest counters, refreshed about every 100 ms; safe to read from any thread.</summary>
    public EngineProgress Progress => _progress with { DeliveryErrors = _kafka?.DeliveryErrors ?? 0 };

    /// <summary>Completes once the consumer group has given the engine its partitions.</summary>
    public Task Assigned => _assigned.Task;

    /// <summary>
    /// The consume loop, on a dedicated thread (Confluent.Kafka's Consume blocks). Ends when
    /// <paramref name="cancel"/> fires (after committing what is safe) or after <see cref="DrainAsync"/>.
    /// </summary>
    public Task RunAsync(CancellationToken cancel) =>
        Task.Factory.StartNew(() => Run(cancel), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// End of input: the loop finalizes every window, publishes, flushes and commits, then stops. Completes when that
    /// is done; fails or is canceled if the loop ends otherwise.
    /// </summary>
    public Task DrainAsync(CancellationToken cancel)
    {
        _drainRequested = true;
        return _drained.Task.WaitAsync(cancel);
    }

    private void Run(CancellationToken cancel)
    {
        try
        {
            using var loop = new ConsumeLoop(this, cancel);
            loop.Run();
            _drained.TrySetCanceled(CancellationToken.None); // stopped without a drain request
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            _drained.TrySetCanceled(cancel);
        }
        catch (Exception e)
        {
            _drained.TrySetException(e);
            throw;
        }
    }

    /// <summary>The state of one run: the Kafka clients, the engine and the counters only the loop thread touches.</summary>
    private sealed class ConsumeLoop : IDisposable
    {
        private readonly NativeEngineRunner _runner;
        private readonly CancellationToken _cancel;
        private readonly TopicNames _topics;
        private readonly CtrEngine _engine;
        private readonly EngineKafka _kafka;
        private readonly IConsumer<byte[], byte[]> _consumer;
        private readonly IProducer<byte[], byte[]> _producer;
        private readonly EngineMetrics _metrics;
        private readonly List<CtrResult> _output = [];
        private readonly Dictionary<int, long> _committed = [];
        private readonly Dictionary<(long WindowStart, int CampaignId), List<ActivityContext>> _tracedCells = [];
        private long _consumed, _bad, _published, _lag;
        private bool _commitPostponed;

        public ConsumeLoop(NativeEngineRunner runner, CancellationToken cancel)
        {
            _runner = runner;
            _cancel = cancel;
            var options = runner._options;
            _topics = runner._pipeline.Topics;
            _engine = new CtrEngine(options.Mode, runner._pipeline, runner._catalog, () => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            _metrics = new EngineMetrics(options.Id, () => runner.Progress);
            runner._kafka = _kafka = new EngineKafka(runner._bootstrapServers, options.GroupId, options.Id, runner._logger, partitions => { _engine.Assign(partitions); runner._assigned.TrySetResult(); });
            (_consumer, _producer) = (_kafka.Consumer, _kafka.Producer);
        }

        public void Run()
        {
            var pipeline = _runner._pipeline;
            _consumer.Subscribe(_topics.Events);
            _runner._logger.LogInformation(
                "{Engine} consuming {Topic} at {Bootstrap}: window {Window}, watermark delay {Delay}, idle timeout {Idle}, tick {Tick}, commit every {Commit}",
                _engine.EngineId, _topics.Events, _runner._bootstrapServers, pipeline.WindowSize, pipeline.WatermarkDelay, pipeline.IdleTimeout,
                _engine.TickInterval, _runner._options.CommitInterval);

            var clock = Stopwatch.StartNew();
            TimeSpan nextTick = _engine.TickInterval, nextCommit = _runner._options.CommitInterval, nextLag = TimeSpan.Zero, nextProgress = ProgressInterval;
            while (!_cancel.IsCancellationRequested)
            {
                if (_runner._drainRequested)
                {
                    Drain();
                    return;
                }
                ConsumeOne();

                var now = clock.Elapsed;
                if (now >= nextTick)
                {
                    _engine.Tick(_output);
                    Publish();
                    nextTick = now + _engine.TickInterval;
                }
                if (now >= nextCommit)
                {
                    Commit();
                    nextCommit = now + _runner._options.CommitInterval;
                }
                if (now >= nextLag)
                {
                    RefreshLag();
                    nextLag = now + LagInterval;
                }
                if (now >= nextProgress)
                {
                    ReportProgress();
                    nextProgress = now + ProgressInterval;
                }
            }
            // A clean stop: every row emitted so far is in the producer, so what is delivered may be committed.
            Commit();
            ReportProgress();
        }

        private void ConsumeOne()
        {
            ConsumeResult<byte[], byte[]>? record;
            try
            {
                record = _consumer.Consume(PollTimeout);
            }
            catch (ConsumeException error)
            {
                _kafka.ReportError(error.Error);
                return;
            }
            if (record is null) return;

            _consumed++;
            var message = record.Message;
            var partition = record.Partition.Value;
            if (!WireFormat.TryParseEvent(message.Value, out var e, out var reason))
            {
                _bad++;
                _engine.Skip(partition, record.Offset.Value);
                _kafka.SideOutput(_topics.DeadLetters, message, $"malformed: {reason}", _cancel);
                return;
            }

            var outcome = _engine.Process(new StreamRecord(e!, partition, record.Offset.Value, message.Timestamp.UnixTimestampMs), _output);
            if (KafkaTracing.Extract(message.Headers) is { } parent) TraceEvent(parent, record, e!, outcome);
            switch (outcome)
            {
                case RecordOutcome.Late:
                    _kafka.SideOutput(_topics.Late, message, error: null, _cancel);
                    break;
                case RecordOutcome.UnknownAd:
                    _bad++;
                    _kafka.SideOutput(_topics.DeadLetters, message, $"unknown ad_id {e!.AdId}", _cancel);
                    break;
                case RecordOutcome.OutOfRange:
                    _bad++;
                    _kafka.SideOutput(_topics.DeadLetters, message, AdEvent.EventTimeOutOfRange, _cancel);
                    break;
            }
            if (_output.Count > 0) Publish();
        }

        private void Publish()
        {
            foreach (var row in _output)
            {
                var key = Encoding.UTF8.GetBytes(row.CampaignId.ToString(CultureInfo.InvariantCulture));
                if (_tracedCells.Count > 0 && _tracedCells.TryGetValue((row.WindowStart, row.CampaignId), out var events))
                {
                    if (row.Final) _tracedCells.Remove((row.WindowStart, row.CampaignId));
                    PublishTraced(row, key, events);
                }
                else _kafka.Send(_topics.Results, key, WireFormat.Serialize(row), headers: null, _cancel);
            }
            _published += _output.Count;
            _output.Clear();
        }

        /// <summary>
        /// A traced event: a "process events" span under the producer's, remembered with its (window, campaign) cell
        /// so that the rows computed from that cell can be traced back to it.
        /// </summary>
        private void TraceEvent(ActivityContext parent, ConsumeResult<byte[], byte[]> record, AdEvent e, RecordOutcome outcome)
        {
            using var span = KafkaTracing.StartMessaging("process", _topics.Events, ActivityKind.Consumer, parent);
            if (span is null) return;
            span.SetRecordPosition(record.Partition.Value, record.Offset.Value)
                .SetTag("ctr.engine", _engine.EngineId)
                .SetTag("ctr.event.ad_id", e.AdId)
                .SetTag("ctr.event.time", e.EventTime)
                .SetTag("ctr.event.outcome", outcome.ToString());
            if (outcome != RecordOutcome.Accepted || !_runner._catalog.TryGetCampaign(e.AdId, out var campaign)) return;

            var cell = (CtrEngine.WindowStart(e.EventTime, (long)_runner._pipeline.WindowSize.TotalMilliseconds), campaign);
            if (!_tracedCells.TryGetValue(cell, out var events)) _tracedCells[cell] = events = [];
            events.Add(span.Context);
        }

        /// <summary>
        /// A row computed from traced events: a "compute ctr window" span under the first of them (linked to the
        /// others), and under it a "send ctr_results" span whose context the row's record carries to the analyzer.
        /// </summary>
        private void PublishTraced(CtrResult row, byte[] key, List<ActivityContext> events)
        {
            var links = events.Skip(1).Select(context => new ActivityLink(context));
            using var compute = KafkaTracing.StartDetached("compute ctr window", ActivityKind.Internal, events[0], links);
            compute?.SetRowTags(row)
                .SetTag("ctr.views", row.Views)
                .SetTag("ctr.clicks", row.Clicks)
                .SetTag("ctr.traced_events", events.Count);
            var send = compute is null ? null : KafkaTracing.StartMessaging("send", _topics.Results, ActivityKind.Producer, compute.Context);
            if (send is null)
            {
                _kafka.Send(_topics.Results, key, WireFormat.Serialize(row), headers: null, _cancel);
                return;
            }
            var headers = new Headers();
            KafkaTracing.Inject(send, headers);
            _kafka.Send(_topics.Results, key, WireFormat.Serialize(row), headers, _cancel, report =>
            {
                _kafka.OnDelivery(report);
                if (report.Error.IsError) send.SetStatus(ActivityStatusCode.Error, report.Error.Reason);
                else send.SetRecordPosition(report.Partition.Value, report.Offset.Value);
                send.Stop();
            });
        }

        /// <summary>Flushes, then commits the safe offsets of the assigned partitions, if everything emitted so far was delivered.</summary>
        private void Commit()
        {
            if (_producer.Flush(CommitFlushTimeout) > 0)
            {
                if (!_commitPostponed)
                    _runner._logger.LogWarning("{Engine}: output not delivered within {Timeout}; offsets are committed once it is.", _engine.EngineId, CommitFlushTimeout);
                _commitPostponed = true;
                return;
            }
            if (_kafka.DeliveryErrors > 0) return;

            var safe = _engine.SafeCommitOffsets();
            var offsets = new List<TopicPartitionOffset>();
            foreach (var tp in _consumer.Assignment)
                if (tp.Topic == _topics.Events && safe.TryGetValue(tp.Partition.Value, out var offset)
                    && _committed.GetValueOrDefault(tp.Partition.Value, -1) != offset)
                    offsets.Add(new TopicPartitionOffset(tp, offset));
            try
            {
                if (offsets.Count > 0) _consumer.Commit(offsets);
                foreach (var o in offsets) _committed[o.Partition.Value] = o.Offset.Value;
                _commitPostponed = false;
            }
            catch (KafkaException e)
            {
                _kafka.ReportError(e.Error);
            }
        }

        private void Drain()
        {
            _engine.Drain(_output);
            Publish();
            _producer.Flush(_cancel);
            Commit();
            ReportProgress();
            _runner._logger.LogInformation("{Engine} drained: {Published} rows published in all, {Late} late, {Bad} bad",
                _engine.EngineId, _published, _engine.Late, _bad);
            _runner._drained.TrySetResult();
        }

        /// <summary>Consumer lag from the high watermarks librdkafka learns with every fetch, against the consumer's position.</summary>
        private void RefreshLag()
        {
            if (_kafka.ConsumerLag() is { } lag) _lag = lag;
        }

        private void ReportProgress()
        {
            var progress = new EngineProgress(_consumed, _engine.Accepted, _engine.Late, _bad, _published,
                DeliveryErrors: 0, _lag, _engine.Watermark, _engine.OpenWindows);
            _runner._progress = progress;
            _metrics.Report(progress);
        }

        public void Dispose()
        {
            _kafka.Dispose();
            _metrics.Dispose();
        }
    }
}
