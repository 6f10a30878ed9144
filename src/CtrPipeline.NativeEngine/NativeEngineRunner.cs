using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.Streaming;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.NativeEngine;

/// <summary>
/// Runs a <see cref="CtrEngine"/> against Kafka: consumes the events topic, publishes CTR rows (key = campaign id),
/// dead-letters malformed records and unknown ads (headers "error" and "engine"), sends late records to the late
/// topic (header "engine"), and commits every <see cref="EngineOptions.CommitInterval"/>. Offsets are never committed
/// past the first record still held by a window that is not final (<see cref="CtrEngine.SafeCommitOffsets"/>), so a
/// rebuild re-reads every event of the open windows.
/// <para>
/// exactly-once (<see cref="EngineOptions.Guarantee"/>): rows, side outputs, the offsets and an
/// <see cref="EngineCheckpoint"/> go in one Kafka transaction per interval. After a crash the next instance fences the
/// old producer (same transactional id), resumes at the checkpoint's offsets and skips replayed records whose window
/// the checkpoint says is final: each window's rows are committed once. at-least-once: rows are flushed, then offsets
/// committed; a restart repeats the rows emitted since the last commit and can add a partial final row for a window
/// that closed before it.
/// </para>
/// <para>
/// Single instance: the engine builds state only while it holds every partition of the events topic. Any revocation
/// commits what is complete (or, for lost partitions, aborts), drops all state, and the next full assignment rebuilds
/// it from the last checkpoint, so a rebalance counts nothing twice. An assignment that stays partial means another
/// instance shares the group: the engine then stops with one line (<see cref="WorkerFailedException"/>).
/// </para>
/// </summary>
public sealed class NativeEngineRunner : IEngineRunner
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LagInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CommitFlushTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan KafkaTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(200);

    private readonly EngineOptions _options;
    private readonly PipelineSettings _pipeline;
    private readonly CampaignCatalog _catalog;
    private readonly KafkaConnection _cluster;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _drainRequested;
    private volatile bool _crashRequested;
    private volatile EngineProgress _progress = EngineProgress.None;
    private volatile EngineKafka? _kafka;

    public NativeEngineRunner(EngineOptions options, PipelineSettings pipeline, CampaignCatalog catalog, KafkaConnection cluster, ILogger logger)
    {
        _options = options.Validate();
        _pipeline = pipeline;
        _catalog = catalog;
        _cluster = cluster;
        _logger = logger;
    }

    /// <summary>The latest counters, refreshed about every 100 ms; safe to read from any thread.</summary>
    public EngineProgress Progress => _progress with { DeliveryErrors = _kafka?.DeliveryErrors ?? 0 };

    /// <summary>Completes once the engine holds every partition of the events topic and has built its state.</summary>
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

    /// <summary>
    /// For crash tests: the loop ends at once, as if the process were killed: no commit, the open transaction left as
    /// it is. (The clients are still closed, so the group need not wait for a session timeout.)
    /// </summary>
    internal void SimulateCrash() => _crashRequested = true;

    private void Run(CancellationToken cancel)
    {
        try
        {
            using var loop = new ConsumeLoop(this, cancel);
            loop.Run();
            _drained.TrySetCanceled(CancellationToken.None); // stopped without a drain request
            _assigned.TrySetCanceled(CancellationToken.None);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            _drained.TrySetCanceled(cancel);
            _assigned.TrySetCanceled(cancel);
        }
        catch (Exception e)
        {
            _drained.TrySetException(e);
            _assigned.TrySetException(e);
            throw;
        }
    }

    /// <summary>The state of one run: the Kafka clients, the engine and the counters only the loop thread touches.</summary>
    private sealed class ConsumeLoop : IDisposable
    {
        private readonly NativeEngineRunner _runner;
        private readonly EngineOptions _options;
        private readonly CancellationToken _cancel;
        private readonly TopicNames _topics;
        private readonly long _windowMs;
        private readonly long _maxSkewMs;
        private readonly EngineKafka _kafka;
        private readonly IConsumer<byte[], byte[]> _consumer;
        private readonly IProducer<byte[], byte[]> _producer;
        private readonly EngineMetrics _metrics;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly List<CtrResult> _output = [];
        private readonly Dictionary<int, long> _committed = [];
        private readonly Dictionary<int, long> _positions = [];
        private readonly Dictionary<(long WindowStart, int CampaignId), List<ActivityContext>> _tracedCells = [];
        private CtrEngine _engine;
        private long _consumed, _bad, _published, _lag, _acceptedBefore, _lateBefore, _frontierLate, _replaySkipped;
        private bool _commitPostponed;

        // Assignment: state is built only while every partition of the events topic is held.
        private readonly SingleInstanceGuard _singleInstance;
        private int? _partitionCount;
        private bool _joined, _ready;

        // Exactly-once: the checkpoint last committed, the one the current state was rebuilt from, the transaction.
        private EngineCheckpoint? _checkpoint, _guard, _committing;
        private bool _transactionsReady, _inTransaction, _abortPending, _outputSinceCommit, _finalsSinceCommit;

        public ConsumeLoop(NativeEngineRunner runner, CancellationToken cancel)
        {
            _runner = runner;
            _options = runner._options;
            _cancel = cancel;
            _topics = runner._pipeline.Topics;
            _windowMs = (long)runner._pipeline.WindowSize.TotalMilliseconds;
            _maxSkewMs = (long)runner._pipeline.MaxEventTimeSkew.TotalMilliseconds;
            _engine = NewEngine();
            _singleInstance = new SingleInstanceGuard(_options.Id, _options.GroupId, _topics.Events, _options.PartialAssignmentTimeout,
                "Native engines are single-instance and cannot publish whole windows from part of the input, so this one stops without publishing; " +
                "run one instance per engine, and use Flink or Spark to scale out.");
            _metrics = new EngineMetrics(_options.Id, () => runner.Progress);
            runner._kafka = _kafka = new EngineKafka(runner._cluster, _options.GroupId, _options.Id, runner._logger,
                onAssigned: _ => { }, OnRevoked, startOffsets: OnAssigned, _options.IsExactlyOnce ? _options.TransactionalId : null);
            (_consumer, _producer) = (_kafka.Consumer, _kafka.Producer);
        }

        private ILogger Logger => _runner._logger;

        private CtrEngine NewEngine() =>
            new(_options.Mode, _runner._pipeline, _runner._catalog, () => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                partition => _kafka.HasBacklog(_topics.Events, partition), OnIdleChanged);

        private void OnIdleChanged(int partition, bool idle)
        {
            if (idle) _metrics.PartitionIdled();
            _kafka.ReportIdle(_topics.Events, partition, idle, _runner._pipeline.IdleTimeout);
        }

        public void Run()
        {
            var pipeline = _runner._pipeline;
            if (_options.IsExactlyOnce) CheckpointStore.EnsureTopic(_runner._cluster, _options.StateTopic, Logger);
            _consumer.Subscribe(_topics.Events);
            Logger.LogInformation(
                "{Engine} ({Guarantee}) consuming {Topic} at {Bootstrap}: window {Window}, watermark delay {Delay}, idle timeout {Idle}, tick {Tick}, commit every {Commit}",
                _engine.EngineId, _options.Guarantee, _topics.Events, _runner._cluster, pipeline.WindowSize, pipeline.WatermarkDelay,
                pipeline.IdleTimeout, _engine.TickInterval, _options.CommitInterval);

            TimeSpan nextTick = _engine.TickInterval, nextCommit = _options.CommitInterval, nextLag = TimeSpan.Zero, nextProgress = ProgressInterval;
            while (!_cancel.IsCancellationRequested)
            {
                if (_runner._crashRequested) return;
                if (_runner._drainRequested && _ready)
                {
                    Drain();
                    return;
                }
                if (_committing is not null || _abortPending)
                {
                    // A transaction is ending and the broker has not confirmed it: nothing may be produced meanwhile.
                    FinishTransaction();
                    if (_committing is not null || _abortPending) Thread.Sleep(RetryPause);
                    continue;
                }

                var record = Consume();
                var now = _clock.Elapsed;
                if (!_ready)
                {
                    // Records read now are not processed: the rebuild seeks back to the checkpoint.
                    AwaitEveryPartition(now);
                    continue;
                }
                if (record is not null) Handle(record);

                if (now >= nextTick)
                {
                    _engine.Tick(_output);
                    Publish();
                    nextTick = now + _engine.TickInterval;
                }
                // Exactly-once: final rows are committed at once, not at the interval's end. Readers see them only
                // then (read_committed), and a crash leaves no final row in an open transaction for long.
                if (now >= nextCommit || _finalsSinceCommit)
                {
                    Commit();
                    nextCommit = now + _options.CommitInterval;
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
            if (_ready) Commit();
            if (_committing is not null) FinishTransaction();
            ReportProgress();
        }

        private ConsumeResult<byte[], byte[]>? Consume()
        {
            _kafka.ThrowIfRefused();
            try
            {
                return _consumer.Consume(PollTimeout);
            }
            catch (ConsumeException error)
            {
                _kafka.ReportError(error.Error); // a refusal ends the loop at the next poll
                return null;
            }
        }

        private void Handle(ConsumeResult<byte[], byte[]> record)
        {
            _consumed++;
            var message = record.Message;
            var partition = record.Partition.Value;
            var offset = record.Offset.Value;
            // Read, and its effects committed, before the checkpoint this state was rebuilt from.
            var replayed = _guard is not null && _guard.Covers(partition, offset);
            _positions[partition] = offset + 1;
            if (!WireFormat.TryParseEvent(message.Value, out var e, out var reason))
            {
                _engine.Skip(partition, offset);
                if (replayed) return;
                _bad++;
                SideOutput(_topics.DeadLetters, message, $"malformed: {reason}");
                return;
            }
            if (_guard is not null)
            {
                // The engine's own order: the event-time guard, the catalog, then the window.
                var rejected = !AdEvent.IsEventTimeInRange(e.EventTime, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), _maxSkewMs)
                    || !_runner._catalog.TryGetCampaign(e.AdId, out _);
                if (rejected && replayed)
                {
                    _engine.Skip(partition, offset); // dead-lettered before the checkpoint
                    return;
                }
                if (!rejected && CtrEngine.WindowStart(e.EventTime, _windowMs) + _windowMs <= _guard.Watermark)
                {
                    // A window the checkpoint says is final: its rows are committed.
                    _engine.Skip(partition, offset);
                    if (replayed) _replaySkipped++;
                    else
                    {
                        _frontierLate++;
                        SideOutput(_topics.Late, message, error: null);
                    }
                    return;
                }
            }

            var outcome = _engine.Process(new StreamRecord(e, partition, offset, message.Timestamp.UnixTimestampMs), _output);
            if (KafkaTracing.Extract(message.Headers) is { } parent) TraceEvent(parent, record, e, outcome);
            switch (outcome)
            {
                case RecordOutcome.Late:
                    SideOutput(_topics.Late, message, error: null);
                    break;
                case RecordOutcome.UnknownAd:
                    _bad++;
                    SideOutput(_topics.DeadLetters, message, $"unknown ad_id {e.AdId}");
                    break;
                case RecordOutcome.OutOfRange:
                    _bad++;
                    SideOutput(_topics.DeadLetters, message, AdEvent.EventTimeOutOfRange);
                    break;
            }
            if (_output.Count > 0) Publish();
        }

        private void SideOutput(string topic, Message<byte[], byte[]> original, string? error)
        {
            _kafka.SideOutput(topic, original, error, _cancel);
            _outputSinceCommit = true;
        }

        private void Publish()
        {
            if (_output.Count == 0) return;
            foreach (var row in _output)
            {
                var key = Encoding.UTF8.GetBytes(row.CampaignId.ToString(CultureInfo.InvariantCulture));
                if (row.Final && _options.IsExactlyOnce) _finalsSinceCommit = true;
                if (_tracedCells.Count > 0 && _tracedCells.TryGetValue((row.WindowStart, row.CampaignId), out var events))
                {
                    if (row.Final) _tracedCells.Remove((row.WindowStart, row.CampaignId));
                    PublishTraced(row, key, events);
                }
                else _kafka.Send(_topics.Results, key, WireFormat.Serialize(row), headers: null, _cancel);
            }
            _published += _output.Count;
            _output.Clear();
            _outputSinceCommit = true;
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

            var cell = (CtrEngine.WindowStart(e.EventTime, _windowMs), campaign);
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

        private void Commit()
        {
            if (_options.IsExactlyOnce) CommitTransaction();
            else CommitOffsets();
            RetireGuard();
        }

        /// <summary>
        /// Once every partition has been read past the checkpoint and the watermark has reached its frontier, the
        /// engine's own rules say the same as the checkpoint's: stop checking each record against it.
        /// </summary>
        private void RetireGuard()
        {
            if (_guard is null || _engine.Watermark < _guard.Watermark) return;
            foreach (var (partition, position) in _guard.Positions)
                if (_positions.GetValueOrDefault(partition, -1) < position) return;
            _guard = null;
        }

        /// <summary>at-least-once: flushes, then commits the safe offsets of the assigned partitions, if everything emitted so far was delivered.</summary>
        private void CommitOffsets()
        {
            if (_producer.Flush(CommitFlushTimeout) > 0)
            {
                if (!_commitPostponed)
                    Logger.LogWarning("{Engine}: output not delivered within {Timeout}; offsets are committed once it is.", _engine.EngineId, CommitFlushTimeout);
                _commitPostponed = true;
                return;
            }
            if (_kafka.DeliveryErrors > 0) return;

            var checkpoint = NextCheckpoint();
            var offsets = checkpoint.Offsets
                .Where(o => _committed.GetValueOrDefault(o.Key, -1) != o.Value)
                .Select(o => new TopicPartitionOffset(_topics.Events, o.Key, o.Value))
                .ToList();
            try
            {
                if (offsets.Count > 0) _consumer.Commit(offsets);
                foreach (var o in offsets) _committed[o.Partition.Value] = o.Offset.Value;
                _checkpoint = checkpoint;
                _commitPostponed = false;
            }
            catch (KafkaException e)
            {
                _kafka.ReportError(e.Error);
            }
        }

        /// <summary>
        /// exactly-once: the checkpoint and the safe offsets join the open transaction, which then commits with the
        /// rows and side outputs produced since the last one. Nothing new since then: no transaction.
        /// </summary>
        private void CommitTransaction()
        {
            if (!_inTransaction) return;
            _finalsSinceCommit = false; // a failed attempt is retried at the interval
            var checkpoint = NextCheckpoint();
            if (!_outputSinceCommit && checkpoint.SameAs(_checkpoint)) return;
            try
            {
                // The checkpoint holds the offsets; no SendOffsetsToTransaction (see CheckpointStore: it can block past its timeout).
                CheckpointStore.Write(_producer, _options.StateTopic, _options.TransactionalId, checkpoint, _kafka.OnDelivery);
                _committing = checkpoint;
            }
            catch (KafkaException e)
            {
                OnTransactionError(e);
                return;
            }
            FinishTransaction();
        }

        /// <summary>Commits the transaction being committed, or aborts the one that must be; retried while the broker is away.</summary>
        private void FinishTransaction()
        {
            try
            {
                if (_committing is { } checkpoint)
                {
                    _producer.CommitTransaction(KafkaTimeout);
                    _committing = null;
                    _checkpoint = checkpoint;
                    _outputSinceCommit = _finalsSinceCommit = false;
                    foreach (var (partition, offset) in checkpoint.Offsets) _committed[partition] = offset;
                    StoreGroupOffsets(checkpoint);
                }
                else if (_abortPending)
                {
                    _producer.AbortTransaction(KafkaTimeout);
                    _abortPending = false;
                }
                else return;
                _inTransaction = false;
                if (!_ready) return; // the rebuild begins the next one
                _producer.BeginTransaction();
                _inTransaction = true;
            }
            catch (KafkaException e)
            {
                OnTransactionError(e);
            }
        }

        /// <summary>
        /// exactly-once: after the transaction commits, its offsets also go to the consumer group (committed in the
        /// background), for lag monitoring and for tools that read group offsets. The engine itself resumes from the checkpoint.
        /// </summary>
        private void StoreGroupOffsets(EngineCheckpoint checkpoint)
        {
            foreach (var (partition, offset) in checkpoint.Offsets)
            {
                try
                {
                    _consumer.StoreOffset(new TopicPartitionOffset(_topics.Events, partition, offset));
                }
                catch (KafkaException)
                {
                    // Not assigned any more: the next owner stores its own.
                }
            }
        }

        /// <summary>
        /// Retriable: tried again at the next step. Abortable: the transaction is aborted and its input read again
        /// from the last checkpoint. Fatal (fenced by another instance): the engine stops with one line.
        /// </summary>
        private void OnTransactionError(KafkaException e)
        {
            Logger.LogDebug("{Engine}: transaction error {Code} ({Reason}); retriable {Retriable}, abortable {Abortable}, committing {Committing}, abort pending {Abort}",
                _options.Id, e.Error.Code, e.Error.Reason, e is KafkaRetriableException, e is KafkaTxnRequiresAbortException, _committing is not null, _abortPending);
            if (e.Error.IsFatal || e.Error.Code is ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch)
                throw new WorkerFailedException(
                    $"{_options.Id}: its transactions were fenced ({e.Error.Reason}): another instance with transactional id {_options.TransactionalId} took over. " +
                    "Native engines are single-instance; to scale out, use Flink or Spark.");
            _kafka.ReportError(e.Error);
            if (e is KafkaRetriableException) return;
            if (e is KafkaTxnRequiresAbortException || _committing is not null)
            {
                Logger.LogWarning("{Engine}: transaction failed ({Reason}); aborting it and reading again from the last checkpoint.", _options.Id, e.Error.Reason);
                _committing = null;
                _abortPending = true;
                DropState();
            }
        }

        /// <summary>The checkpoint of the current state: the previous one's values where this state has not caught up with them.</summary>
        private EngineCheckpoint NextCheckpoint()
        {
            var guard = _guard;
            var offsets = new Dictionary<int, long>(guard?.Offsets ?? []);
            foreach (var (partition, offset) in _engine.SafeCommitOffsets()) offsets[partition] = offset;
            var positions = new Dictionary<int, long>(guard?.Positions ?? []);
            foreach (var (partition, position) in _positions)
                if (position > positions.GetValueOrDefault(partition, -1)) positions[partition] = position;
            var watermark = Math.Max(_engine.Watermark, guard?.Watermark ?? long.MinValue);
            return new EngineCheckpoint(watermark, positions, offsets);
        }

        /// <summary>Called inside Consume when partitions arrive: rebuilds once the engine holds every partition, starting the new ones at the checkpoint.</summary>
        private IReadOnlyDictionary<int, long>? OnAssigned(IReadOnlyList<int> added)
        {
            _joined = true;
            var held = _consumer.Assignment.Where(tp => tp.Topic == _topics.Events).Select(tp => tp.Partition.Value).Concat(added).Distinct().ToList();
            if (_ready || !_singleInstance.HoldsEveryPartition(held, PartitionCount(), _clock.Elapsed)) return null;
            try
            {
                var start = Rebuild(held);
                foreach (var (partition, offset) in start)
                    if (!added.Contains(partition)) _consumer.Seek(new TopicPartitionOffset(_topics.Events, partition, offset));
                return start;
            }
            catch (Exception e) when (e is KafkaException or TimeoutException)
            {
                ReportRebuildFailure(e);
                return null;
            }
        }

        /// <summary>Called inside Consume before partitions go: commits what is complete (aborts, if they were lost) and drops all state.</summary>
        private void OnRevoked(IReadOnlyList<int> revoked, bool lost)
        {
            if (!_ready || _runner._crashRequested) return;
            if (!lost) Commit();
            else if (_options.IsExactlyOnce && _inTransaction && _committing is null) _abortPending = true;
            if (_committing is not null) FinishTransaction();
            if (_abortPending) FinishTransaction();
            DropState();
            Logger.LogInformation("{Engine}: partitions {Partitions} {How}; state dropped, to be rebuilt from the last checkpoint once every partition is back.",
                _options.Id, string.Join(", ", revoked), lost ? "lost" : "revoked");
        }

        /// <summary>While not ready: rebuilds after a failed attempt, and stops when the assignment stays partial.</summary>
        private void AwaitEveryPartition(TimeSpan now)
        {
            if (!_joined) return;
            var held = _consumer.Assignment.Where(tp => tp.Topic == _topics.Events).Select(tp => tp.Partition.Value).ToList();
            if (!_singleInstance.HoldsEveryPartition(held, PartitionCount(), now) || _abortPending) return;
            try
            {
                foreach (var (partition, offset) in Rebuild(held))
                    _consumer.Seek(new TopicPartitionOffset(_topics.Events, partition, offset));
            }
            catch (Exception e) when (e is KafkaException or TimeoutException)
            {
                ReportRebuildFailure(e);
                Thread.Sleep(RetryPause);
            }
        }

        /// <summary>The events topic's partition count from the cluster's metadata (the configured count while the broker cannot say).</summary>
        private int PartitionCount()
        {
            _partitionCount ??= _kafka.PartitionCount(_topics.Events, KafkaTimeout);
            return _partitionCount ?? _runner._pipeline.Partitions;
        }

        /// <summary>
        /// A fresh engine over <paramref name="held"/>, resuming each partition at the last checkpoint (exactly-once:
        /// read after fencing any predecessor) or at the group's committed offset; returns where each starts.
        /// </summary>
        private Dictionary<int, long> Rebuild(IReadOnlyList<int> held)
        {
            if (_options.IsExactlyOnce)
            {
                if (!_transactionsReady)
                {
                    // Only now, holding every partition: a newcomer that is refused must not fence the running instance.
                    _producer.InitTransactions(KafkaTimeout);
                    _checkpoint = CheckpointStore.ReadLatest(_runner._cluster, _options.StateTopic, _options.TransactionalId, _options.GroupId);
                    _transactionsReady = true;
                }
                if (!_inTransaction)
                {
                    _producer.BeginTransaction();
                    _inTransaction = true;
                }
            }
            var start = new Dictionary<int, long>();
            var missing = held.Where(p => _checkpoint is null || !_checkpoint.Offsets.ContainsKey(p)).ToList();
            if (missing.Count > 0)
                foreach (var c in _consumer.Committed(missing.Select(p => new TopicPartition(_topics.Events, p)), KafkaTimeout))
                    start[c.Partition.Value] = c.Offset.Value >= 0 ? c.Offset.Value : Offset.Beginning.Value;
            foreach (var partition in held)
                if (_checkpoint is not null && _checkpoint.Offsets.TryGetValue(partition, out var offset)) start[partition] = offset;

            _engine = NewEngine();
            _engine.Assign(held);
            _guard = _checkpoint;
            _positions.Clear();
            _ready = true;
            Logger.LogInformation("{Engine} holds all {Count} partitions; state rebuilt from {From}", _options.Id, held.Count,
                _checkpoint is null ? "the committed offsets" : $"the checkpoint at watermark {_checkpoint.Watermark}");
            Logger.LogInformation(Engines.ReadyTemplate, _options.Id, $"holds all {held.Count} partitions of {_topics.Events}");
            _runner._assigned.TrySetResult();
            return start;
        }

        private void ReportRebuildFailure(Exception e)
        {
            if (e is KafkaException k && (k.Error.IsFatal || k.Error.Code == ErrorCode.ProducerFenced)) OnTransactionError(k);
            Logger.LogWarning("{Engine}: could not rebuild yet ({Reason}); retrying.", _options.Id, e.Message);
        }

        /// <summary>Forgets all window state; the counters of the dropped engine stay in the totals.</summary>
        private void DropState()
        {
            _acceptedBefore += _engine.Accepted;
            _lateBefore += _engine.Late;
            _engine = NewEngine();
            _output.Clear();
            _tracedCells.Clear();
            _positions.Clear();
            _guard = null;
            _finalsSinceCommit = false;
            _ready = false;
        }

        private void Drain()
        {
            _engine.Drain(_output);
            Publish();
            if (_options.IsExactlyOnce)
            {
                CommitTransaction();
                while ((_committing is not null || _abortPending) && !_cancel.IsCancellationRequested)
                {
                    Thread.Sleep(RetryPause);
                    FinishTransaction();
                }
            }
            else
            {
                _producer.Flush(_cancel);
                CommitOffsets();
            }
            ReportProgress();
            Logger.LogInformation("{Engine} drained: {Published} rows published in all, {Late} late, {Bad} bad, {Replayed} replayed records of final windows skipped",
                _engine.EngineId, _published, _lateBefore + _engine.Late + _frontierLate, _bad, _replaySkipped);
            _runner._drained.TrySetResult();
        }

        /// <summary>Consumer lag from the high watermarks librdkafka learns with every fetch, against the consumer's position.</summary>
        private void RefreshLag()
        {
            if (_kafka.ConsumerLag() is { } lag) _lag = lag;
        }

        private void ReportProgress()
        {
            var progress = new EngineProgress(_consumed, _acceptedBefore + _engine.Accepted, _lateBefore + _engine.Late + _frontierLate, _bad, _published,
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
