using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

namespace CtrPipeline.Bench;

/// <summary>
/// Records every record of some topics from their first offset, live, on its own consumer. The embedded broker
/// keeps only the newest 5 MiB of each partition (librdkafka's mock cluster has that limit built in), so the oracle
/// cannot read a long run back afterwards; it listens while the run happens instead. Records a broker dropped before
/// the tap read them show up as <see cref="Lost"/>, never silently.
/// <para>
/// The tap reads committed records only (<see cref="KafkaClients.Consumer"/>), as the analyzer does: the rows of an
/// exactly-once engine's open or aborted transactions are not results. Offsets of a transactional topic have gaps
/// (each transaction's commit marker takes one, aborted records are skipped), so a gap is a loss only where the
/// partition's log now starts after it.
/// </para>
/// <para>
/// Given an events topic, the tap keeps that topic's records as parsed <see cref="TappedEvent"/>s (32 bytes each, no
/// object per record): a minute at 250,000 events/s is 15 M records, which as objects would fill the heap of the
/// process that also runs the producer and, in-process, the engine.
/// </para>
/// </summary>
public sealed class TopicTap : IDisposable
{
    private readonly IConsumer<string, byte[]> _consumer;
    private readonly Dictionary<string, List<ConsumeResult<string, byte[]>>> _records = [];
    private readonly Dictionary<TopicPartition, long> _next = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Lock _gate = new();
    private readonly string? _eventsTopic;
    private readonly List<TappedEvent>? _events;
    private long _eventRecords;

    public TopicTap(KafkaConnection bootstrapServers, IReadOnlyDictionary<string, int> topicPartitions, string? eventsTopic = null)
        : this(bootstrapServers, [.. topicPartitions.SelectMany(t => Enumerable.Range(0, t.Value).Select(p => new TopicPartition(t.Key, p)))], eventsTopic)
    {
    }

    /// <summary>A tap of some partitions only: several taps of one topic fetch side by side.</summary>
    public TopicTap(KafkaConnection bootstrapServers, IReadOnlyList<TopicPartition> partitions, string? eventsTopic = null)
    {
        _eventsTopic = eventsTopic;
        _events = eventsTopic is null ? null : [];
        var config = KafkaClients.Consumer(bootstrapServers, $"tap-{Guid.NewGuid():N}", "ctr-oracle-tap");
        _consumer = new ConsumerBuilder<string, byte[]>(config).Build();
        foreach (var tp in partitions)
        {
            if (!_records.ContainsKey(tp.Topic)) _records[tp.Topic] = [];
            _next[tp] = 0;
        }
        _consumer.Assign(_next.Keys.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        _loop = Task.Factory.StartNew(Run, TaskCreationOptions.LongRunning);
    }

    /// <summary>Records the broker dropped (retention) before the tap could read them.</summary>
    public long Lost { get; private set; }

    /// <summary>Waits until every partition has been read up to its current end, then stops and hands over the records.</summary>
    public async Task<TapContents> CompleteAsync(TimeSpan timeout)
    {
        var ends = _next.Keys.ToDictionary(tp => tp, tp => _consumer.QueryWatermarkOffsets(tp, timeout).High.Value);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            lock (_gate)
                if (ends.All(e => _next[e.Key] >= e.Value || PastMarkers(e.Key) >= e.Value)) break;
            if (_loop.IsFaulted) await _loop;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"The oracle's tap did not reach the end of the topics within {timeout}.");
            await Task.Delay(20);
        }
        await _stop.CancelAsync();
        await _loop;
        return new TapContents(_records, _events, _eventRecords, Lost);
    }

    private void Run()
    {
        while (!_stop.IsCancellationRequested)
        {
            var r = _consumer.Consume(TimeSpan.FromMilliseconds(50));
            if (r is null || r.IsPartitionEOF) continue;
            lock (_gate)
            {
                var expected = _next[r.TopicPartition];
                if (r.Offset.Value > expected) Lost += Dropped(r.TopicPartition, expected, r.Offset.Value);
                _next[r.TopicPartition] = r.Offset.Value + 1;
                if (r.Topic != _eventsTopic) _records[r.Topic].Add(r);
                else
                {
                    _eventRecords++;
                    if (WireFormat.TryParseEvent(r.Message.Value, out var e, out _))
                        _events!.Add(new TappedEvent(e.EventId, e.EventType, e.AdId, e.EventTime, r.Message.Timestamp.UnixTimestampMs));
                }
            }
        }
    }

    /// <summary>The consumer's position, which moves past commit markers at a partition's end, where no record arrives.</summary>
    private long PastMarkers(TopicPartition tp) => _consumer.Position(tp) is { } position && position != Offset.Unset ? position.Value : -1;

    /// <summary>Of the offsets from <paramref name="expected"/> to <paramref name="next"/>, those below the partition's log start: dropped by retention.</summary>
    private long Dropped(TopicPartition tp, long expected, long next)
    {
        var low = _consumer.GetWatermarkOffsets(tp).Low;
        if (low == Offset.Unset) low = _consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).Low;
        return Math.Max(0, Math.Min(next, low.Value) - expected);
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); }
        catch (AggregateException) { }
        _consumer.Dispose();
        _stop.Dispose();
    }
}

/// <summary>An event the tap read and parsed (<see cref="WireFormat.TryParseEvent"/>), with its record's Kafka timestamp.</summary>
public readonly record struct TappedEvent(long EventId, EventType Type, int AdId, long EventTime, long KafkaTimestamp);

/// <summary>
/// What a tap read: every record per topic, except the events topic's when the tap was given it, which are in
/// <see cref="Events"/> instead (only the records that parse as events; <see cref="EventRecords"/> counts them all).
/// </summary>
public sealed record TapContents(
    IReadOnlyDictionary<string, List<ConsumeResult<string, byte[]>>> Records, IReadOnlyList<TappedEvent>? Events, long EventRecords, long Lost)
{
    public List<ConsumeResult<string, byte[]>> this[string topic] => Records[topic];
}
