using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.Streaming;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.SqlEngine;

/// <summary>
/// The legacy paradigm: the engine reads the events topic, writes accepted events into the database in batches (one
/// transaction each), and every trigger interval runs the CTR query over the windows the watermark has closed since
/// the last run, joined with the campaign table in SQL, and publishes those rows (final) to the results topic. The
/// database's work (inserts, the query, the retention delete) runs on a pool thread, one piece at a time, while this
/// engine's thread goes on reading.
/// <para>
/// Same contract as the native engines: the watermark is <see cref="WatermarkTracker"/>'s (per partition, minus the
/// delay, idle partitions skipped); an event whose window is closed, or being closed, is late and goes to the late topic
/// (header "engine"); malformed records, unknown ads and event times out of range (the guard of docs/contract.md,
/// checked before the watermark sees the event) go to the dead-letter topic (headers "engine", "error").
/// </para>
/// <para>
/// Delivery: at-least-once. A batch's offsets are stored after its database transaction and its side outputs are
/// durable, and the consumer commits stored offsets in the background (a synchronous commit blocks the loop while
/// the group coordinator is away, and the consumer can then not rejoin). A restart re-reads what was not committed:
/// the (partition, offset) key makes a second insert a no-op, and a replayed event whose window is already published
/// is recognised by that key and skipped, not sent to the late topic. The closed watermark is stored after its rows
/// are delivered, so a crash in between publishes those windows again (complete, with the same counts).
/// </para>
/// <para>
/// After a restart the watermark starts over: each assigned partition holds it back until it has delivered or been
/// idle for the idle timeout (<see cref="WatermarkTracker.Assign"/>), so the first partition to deliver its backlog
/// cannot close windows whose events other partitions still hold. Single-instance (<see cref="SingleInstanceGuard"/>):
/// the engine publishes only while it holds every partition, and a newcomer refused by that rule commits nothing
/// (docs/engines/sql.md).
/// </para>
/// </summary>
public sealed class SqlEngineRunner(SqlEngineOptions options, DatabaseTarget target, PipelineSettings pipeline, CampaignCatalog catalog,
    KafkaConnection cluster, ILogger logger) : IEngineRunner
{
    private readonly SqlEngineOptions _options = options.Validate();
    private readonly DatabaseTarget _target = target;
    private readonly PipelineSettings _pipeline = pipeline;
    private readonly CampaignCatalog _catalog = catalog;
    private readonly KafkaConnection _cluster = cluster;
    private readonly ILogger _logger = logger;
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LagInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RetentionInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// While the database is busy (a window query takes about a second at 120,000 events/s), the engine keeps reading
    /// into the next batch, up to this many times <see cref="SqlEngineOptions.BatchSize"/>; only then does reading wait.
    /// </summary>
    private const int BatchGrowthWhileBusy = 16;

    private readonly TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _drainRequested;
    private volatile EngineProgress _progress = EngineProgress.None;
    private volatile EngineKafka? _kafka;

    public EngineProgress Progress => _progress with { DeliveryErrors = _kafka?.DeliveryErrors ?? 0 };

    public Task Assigned => _assigned.Task;

    /// <summary>The database the engine writes to, once connected: "SQLite 3.53.4", "PostgreSQL 15.18".</summary>
    public string? DatabaseProduct { get; private set; }

    /// <summary>Connects to and migrates the database, then runs the consume loop on a dedicated thread.</summary>
    public async Task RunAsync(CancellationToken cancel)
    {
        CtrDatabase database;
        try
        {
            _logger.LogInformation("{Engine} opening {Database}", Engines.Sql, _target.Display);
            database = await _target.OpenAsync(_catalog, _pipeline.Topics.Events, _logger, cancel);
        }
        catch (Exception e)
        {
            _drained.TrySetException(e);
            throw;
        }
        DatabaseProduct = database.Product;
        using (database)
            await Task.Factory.StartNew(() => Run(database, cancel), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    public Task DrainAsync(CancellationToken cancel)
    {
        _drainRequested = true;
        return _drained.Task.WaitAsync(cancel);
    }

    private void Run(CtrDatabase database, CancellationToken cancel)
    {
        try
        {
            using var loop = new ConsumeLoop(this, database, cancel);
            loop.Run();
            _drained.TrySetCanceled(CancellationToken.None);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            _drained.TrySetCanceled(cancel);
        }
        catch (System.Data.Common.DbException e)
        {
            var failure = new WorkerFailedException(
                $"The SQL engine's database ({database.Description}) failed: {e.Message}. Offsets are committed only after a batch is written, so a restart resumes after the last written batch.");
            _drained.TrySetException(failure);
            throw failure;
        }
        catch (Exception e)
        {
            _drained.TrySetException(e);
            throw;
        }
    }

    /// <summary>The consume loop's state; only its thread touches it.</summary>
    private sealed class ConsumeLoop : IDisposable
    {
        private readonly SqlEngineRunner _runner;
        private readonly CtrDatabase _database;
        private readonly CancellationToken _cancel;
        private readonly SqlEngineOptions _options;
        private readonly TopicNames _topics;
        private readonly long _windowMs;
        private readonly long _maxSkewMs;
        private readonly WatermarkTracker _watermark;
        private readonly EngineKafka _kafka;
        private readonly IConsumer<byte[], byte[]> _consumer;
        private readonly IProducer<byte[], byte[]> _producer;
        private readonly EngineMetrics _metrics;
        private List<EventRow> _batch = [], _writeRows = [];
        private Dictionary<int, long> _nextOffsets = [], _writeOffsets = [];
        private Task<Closed>? _write;
        private readonly SortedSet<long> _openWindows = [];
        private long _lastWindowStart = long.MinValue;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _closedUntil, _closingUntil;
        private long _consumed, _accepted, _late, _bad, _published, _lag;
        private TimeSpan _batchStarted;
        private bool _uncommitted;
        private long _replayed;
        private readonly SingleInstanceGuard _singleInstance;
        private int? _partitionCount;
        private bool _joined;

        public ConsumeLoop(SqlEngineRunner runner, CtrDatabase database, CancellationToken cancel)
        {
            _runner = runner;
            _database = database;
            _cancel = cancel;
            _options = runner._options;
            _topics = runner._pipeline.Topics;
            _windowMs = (long)runner._pipeline.WindowSize.TotalMilliseconds;
            _maxSkewMs = (long)runner._pipeline.MaxEventTimeSkew.TotalMilliseconds;
            _watermark = new WatermarkTracker((long)runner._pipeline.WatermarkDelay.TotalMilliseconds, (long)runner._pipeline.IdleTimeout.TotalMilliseconds,
                HasBacklog, OnIdleChanged);
            _closingUntil = _closedUntil = database.ClosedUntil();
            _metrics = new EngineMetrics(Engines.Sql, () => runner.Progress);
            _singleInstance = new SingleInstanceGuard("The SQL engine", _options.GroupId, _topics.Events, _options.PartialAssignmentTimeout,
                "The SQL engine is single-instance: each instance's watermark would see only its own partitions and close windows whose events the " +
                "other has not stored, so this one stops without publishing. Run one SQL engine per consumer group; to scale out, use Flink or Spark.");

            runner._kafka = _kafka = new EngineKafka(runner._cluster, _options.GroupId, Engines.Sql, runner._logger, partitions =>
            {
                // Runs on this loop's thread, inside Consume. Another process on the same database may have published
                // windows since this one started: the late check must use the stored closed watermark.
                _joined = true;
                _watermark.Assign(partitions, NowMs());
                WaitForWrite();
                _closedUntil = Math.Max(_closedUntil, _database.ClosedUntil());
                _closingUntil = Math.Max(_closingUntil, _closedUntil);
                runner._logger.LogInformation(Engines.ReadyTemplate, Engines.Sql, $"holds partitions {string.Join(", ", partitions)} of {_topics.Events}");
                runner._assigned.TrySetResult();
            });
            (_consumer, _producer) = (_kafka.Consumer, _kafka.Producer);
        }

        public void Run()
        {
            var pipeline = _runner._pipeline;
            _consumer.Subscribe(_topics.Events);
            _runner._logger.LogInformation(
                "{Engine} consuming {Topic} into {Database}: batches of up to {Batch} events or {BatchInterval}, aggregation every {Trigger}, window {Window}, watermark delay {Delay}, windows published up to {Closed}",
                Engines.Sql, _topics.Events, _database.Description, _options.BatchSize, _options.BatchInterval, pipeline.TriggerInterval,
                pipeline.WindowSize, pipeline.WatermarkDelay, _closedUntil == long.MinValue ? "none yet" : DateTimeOffset.FromUnixTimeMilliseconds(_closedUntil).ToString("O"));

            TimeSpan nextAggregate = pipeline.TriggerInterval, nextLag = TimeSpan.Zero, nextProgress = ProgressInterval, nextRetention = RetentionInterval;
            while (!_cancel.IsCancellationRequested)
            {
                if (_runner._drainRequested)
                {
                    Drain();
                    return;
                }
                ConsumeOne();
                if (_write is { IsCompleted: true }) CompleteWrite();

                var now = _clock.Elapsed;
                if (_write is null)
                {
                    // The database is free. A window query goes with the batch so far: it must see every event
                    // consumed before it. HoldsEveryPartition comes first: offsets are stored only once the engine
                    // held every partition.
                    if (now >= nextAggregate)
                    {
                        StartWrite(HoldsEveryPartition() ? _watermark.Advance(NowMs()) : null);
                        nextAggregate = now + pipeline.TriggerInterval;
                    }
                    else if (now >= nextRetention)
                    {
                        StartRetention();
                        nextRetention = now + RetentionInterval;
                    }
                    else if (_batch.Count >= _options.BatchSize || (_uncommitted && now - _batchStarted >= _options.BatchInterval))
                        StartWrite();
                }
                else if (_batch.Count >= _options.BatchSize * BatchGrowthWhileBusy)
                    StartWrite(); // waits for the database
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
            StartWrite(); // a clean stop keeps what was consumed
            CompleteWrite();
            ReportProgress();
        }

        private bool HasBacklog(int partition) => _kafka.HasBacklog(_topics.Events, partition);

        private void OnIdleChanged(int partition, bool idle)
        {
            if (idle) _metrics.PartitionIdled();
            _kafka.ReportIdle(_topics.Events, partition, idle, _runner._pipeline.IdleTimeout);
        }

        private static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        private void ConsumeOne()
        {
            ConsumeResult<byte[], byte[]>? record;
            _kafka.ThrowIfRefused();
            try
            {
                record = _consumer.Consume(PollTimeout);
            }
            catch (ConsumeException error)
            {
                _kafka.ReportError(error.Error); // a refusal ends the loop at the next poll
                return;
            }
            if (record is null) return;

            if (!_uncommitted) _batchStarted = _clock.Elapsed;
            _uncommitted = true;
            _consumed++;
            var message = record.Message;
            var partition = record.Partition.Value;
            _nextOffsets[partition] = record.Offset.Value + 1;
            if (!WireFormat.TryParseEvent(message.Value, out var e, out var reason))
            {
                _bad++;
                _kafka.SideOutput(_topics.DeadLetters, message, $"malformed: {reason}", _cancel);
                return;
            }
            var now = NowMs();
            if (!AdEvent.IsEventTimeInRange(e.EventTime, now, _maxSkewMs))
            {
                // Before the watermark sees it: one event from a broken clock must not close every window.
                _bad++;
                _kafka.SideOutput(_topics.DeadLetters, message, AdEvent.EventTimeOutOfRange, _cancel);
                return;
            }
            _watermark.Observe(partition, e.EventTime, now);
            if (!_runner._catalog.TryGetCampaign(e.AdId, out _))
            {
                _bad++;
                _kafka.SideOutput(_topics.DeadLetters, message, $"unknown ad_id {e.AdId}", _cancel);
                return;
            }
            var windowStart = CtrEngine.WindowStart(e.EventTime, _windowMs);
            if (windowStart + _windowMs <= _closingUntil)
            {
                // Read again after a restart or a lost assignment: stored, counted and published already (or being
                // published: the query in flight sees the events stored before it).
                WaitForWrite();
                if (_database.Contains(partition, record.Offset.Value))
                {
                    _replayed++;
                    return;
                }
                _late++;
                _kafka.SideOutput(_topics.Late, message, error: null, _cancel);
                return;
            }
            if (windowStart != _lastWindowStart) _openWindows.Add(_lastWindowStart = windowStart); // events come mostly in window order
            _accepted++;
            _batch.Add(new EventRow(partition, record.Offset.Value, e.EventId, e.EventType, e.AdId, e.UserId, e.EventTime, message.Timestamp.UnixTimestampMs));
        }

        /// <summary>
        /// Hands the batch to a pool thread, which inserts it (one database transaction) while this thread reads the
        /// next one: the database's work and Kafka's overlap. With a <paramref name="watermark"/>, the same thread then
        /// closes the windows that ended at or before it (<see cref="Close"/>); from here on an event of those windows
        /// is late. The work before is completed first, so at most one is in flight, and every other use of the
        /// database waits for it (<see cref="WaitForWrite"/>).
        /// </summary>
        private void StartWrite(long? watermark = null)
        {
            CompleteWrite();
            var closeTo = watermark is { } w ? CloseTo(w) : null;
            if (!_uncommitted && closeTo is null)
            {
                StoreOffsets(_nextOffsets); // offsets held back before (delivery errors, a newcomer) are tried again
                return;
            }
            (_batch, _writeRows) = (_writeRows, _batch);
            (_nextOffsets, _writeOffsets) = (_writeOffsets, _nextOffsets);
            _uncommitted = false;
            var (rows, from) = (_writeRows, _closedUntil);
            if (closeTo is not null) _closingUntil = Math.Max(_closingUntil, closeTo.Value);
            _write = Task.Run(() =>
            {
                _database.Insert(rows);
                return closeTo is { } to ? Close(from, to) : new Closed(0, from);
            }, CancellationToken.None);
        }

        /// <summary>Where a run at <paramref name="watermark"/> closes windows up to, or null when it closes none.</summary>
        private long? CloseTo(long watermark)
        {
            if (watermark == long.MinValue) return null;
            var closeTo = watermark == long.MaxValue ? long.MaxValue : CtrEngine.WindowStart(watermark, _windowMs);
            return closeTo > _closedUntil ? closeTo : null;
        }

        /// <summary>
        /// Waits for the work in flight, waits for the side outputs, then stores its batch's offsets for the consumer's
        /// background commit (an event is committed to Kafka only once it is in the database) and takes in the
        /// windows it closed.
        /// </summary>
        private void CompleteWrite()
        {
            if (_write is null) return;
            var closed = _write.GetAwaiter().GetResult();
            _write = null;
            _writeRows.Clear();
            _producer.Flush(_cancel);
            StoreOffsets(_writeOffsets);
            _published += closed.Published;
            if (closed.Until <= _closedUntil) return;
            _closedUntil = closed.Until;
            _openWindows.RemoveWhere(start => start + _windowMs <= _closedUntil);
        }

        /// <summary>Waits until the database is free: the batch in flight is written (or its failure thrown here).</summary>
        private void WaitForWrite() => _write?.GetAwaiter().GetResult();

        private void StoreOffsets(Dictionary<int, long> offsets)
        {
            if (offsets.Count == 0) return;
            // After a delivery error nothing is committed any more: a restart re-reads and re-publishes. A newcomer that
            // never held every partition commits nothing: the incumbent, which may keep its events in another database,
            // reads its partitions again from where it left them.
            if (_kafka.DeliveryErrors > 0 || !_singleInstance.HadEveryPartition)
            {
                if (offsets != _nextOffsets)
                    foreach (var (partition, offset) in offsets) _nextOffsets.TryAdd(partition, offset); // newer ones win
                offsets.Clear();
                return;
            }
            foreach (var (partition, offset) in offsets)
            {
                try
                {
                    _consumer.StoreOffset(new TopicPartitionOffset(_topics.Events, partition, offset));
                }
                catch (KafkaException)
                {
                    // Not assigned any more (lost in a rebalance): its events are read again and recognised by their key.
                }
            }
            offsets.Clear();
        }

        /// <summary>
        /// Whether this instance may publish: it holds every partition of the events topic (see
        /// <see cref="SingleInstanceGuard"/>; an assignment that stays partial stops the engine).
        /// </summary>
        private bool HoldsEveryPartition()
        {
            if (!_joined) return false;
            var held = _consumer.Assignment.Where(tp => tp.Topic == _topics.Events).Select(tp => tp.Partition.Value).ToList();
            _partitionCount ??= _kafka.PartitionCount(_topics.Events, TimeSpan.FromSeconds(5));
            return _singleInstance.HoldsEveryPartition(held, _partitionCount ?? _runner._pipeline.Partitions, _clock.Elapsed);
        }

        /// <summary>What a write closed: the rows it published and the closed watermark it stored.</summary>
        private readonly record struct Closed(int Published, long Until);

        /// <summary>
        /// On the database's thread: runs the CTR query over the windows in [<paramref name="from"/>,
        /// <paramref name="to"/>), publishes their rows (final), waits for delivery and stores the new closed watermark.
        /// </summary>
        private Closed Close(long from, long to)
        {
            var started = Stopwatch.GetTimestamp();
            var counts = _database.Aggregate(from, to, _windowMs);
            var computedAt = NowMs();
            _runner._logger.LogDebug("{Engine} window query up to {CloseTo}: {Rows} rows in {Elapsed:0} ms", Engines.Sql, to, counts.Count,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            foreach (var c in counts)
            {
                var row = new CtrResult(Engines.Sql, c.WindowStart, c.WindowStart + _windowMs, c.CampaignId, c.Views, c.Clicks,
                    CtrResult.Rate(c.Views, c.Clicks), c.MaxKafkaTimestamp, computedAt, Final: true);
                _kafka.Send(_topics.Results, Encoding.UTF8.GetBytes(c.CampaignId.ToString(CultureInfo.InvariantCulture)), WireFormat.Serialize(row), headers: null, _cancel);
            }
            _producer.Flush(_cancel);
            if (_kafka.DeliveryErrors > 0) return new Closed(counts.Count, from); // the rows must come again after a restart
            // Only now, with the rows delivered, is the window closed for good: a crash before this line publishes it
            // again after the restart, from the same events, with the same counts.
            _database.SetClosedUntil(to);
            return new Closed(counts.Count, to);
        }

        /// <summary>On the database's thread: deletes the events of windows published more than Sql:Retention ago.</summary>
        private void StartRetention()
        {
            if (_closedUntil == long.MinValue) return;
            var closed = _closedUntil;
            var before = closed == long.MaxValue ? long.MaxValue : closed - (long)_options.Retention.TotalMilliseconds;
            _write = Task.Run(() =>
            {
                var deleted = _database.DeleteEventsBefore(before);
                if (deleted > 0) _runner._logger.LogDebug("{Engine} deleted {Deleted} events of windows published more than {Retention} ago", Engines.Sql, deleted, _options.Retention);
                return new Closed(0, closed);
            }, CancellationToken.None);
        }

        private void Drain()
        {
            long? watermark = null;
            if (HoldsEveryPartition())
            {
                _watermark.Finish();
                watermark = _watermark.Current;
            }
            StartWrite(watermark);
            CompleteWrite();
            ReportProgress();
            _runner._logger.LogInformation("{Engine} drained: {Published} rows published in all, {Late} late, {Bad} bad, {Replayed} replayed events of published windows skipped",
                Engines.Sql, _published, _late, _bad, _replayed);
            _runner._drained.TrySetResult();
        }

        private void RefreshLag()
        {
            if (_kafka.ConsumerLag() is { } lag) _lag = lag;
        }

        private void ReportProgress()
        {
            var watermark = _closedUntil == long.MaxValue ? long.MaxValue : _watermark.Current;
            var progress = new EngineProgress(_consumed, _accepted, _late, _bad, _published, DeliveryErrors: 0, _lag, watermark, _openWindows.Count);
            _runner._progress = progress;
            _metrics.Report(progress);
        }

        public void Dispose()
        {
            // The database is closed after this: a batch still in flight (the loop stopped by an error) must finish first.
            try { _write?.Wait(); } catch (AggregateException) { }
            _kafka.Dispose();
            _metrics.Dispose();
        }
    }
}
