using System.Collections.Concurrent;
using Confluent.Kafka;

namespace CtrPipeline.Kafka;

/// <summary>
/// Whether the broker holds records of a partition that the consumer has not handed over yet, for the watermark's
/// idleness rule: a silent partition with such records is slow, not idle. A consumer that has handed over nothing of a
/// partition since its assignment has no position, and its cached high watermark says nothing of a partition whose
/// fetches stall (a slow leader, or a backlog that a real broker delivers a few partitions at a time); so the broker is
/// asked: its high watermark, and where the consumer starts (the committed offset, else the log start).
/// <para>
/// The questions go out on threads of their own, one per partition in question: a broker request on the consume loop
/// stalled it under load, and a slow leader must not hold up the other partitions' answers. An answer is as old as its
/// question, and one older than twice <see cref="AnswerLifetime"/> (a slow broker's) may miss records appended since,
/// so it is not used; nor is one below the consumer's position, given before the records it handed over last. Without an answer to use, the answer is "yes": a partition is never taken for idle on a guess.
/// </para>
/// </summary>
public sealed class BacklogProbe : IDisposable
{
    /// <summary>
    /// How long after its question a broker's answer is used before it is asked again; while the next answer is on its
    /// way the last one serves up to twice as long (so a silent partition's idleness does not flicker with every
    /// question), then none does.
    /// </summary>
    public static readonly TimeSpan AnswerLifetime = TimeSpan.FromSeconds(1);

    private readonly Func<TopicPartition, BrokerOffsets?> _ask;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<TopicPartition, Answer> _answers = new();
    /// <summary>The questions on their way, one thread each: a slow partition's leader must not hold up the others' answers.</summary>
    private readonly ConcurrentDictionary<TopicPartition, Thread> _asking = new();
    private volatile bool _stopped;

    /// <param name="ask">Asks the broker, blocking (briefly: an answer slower than twice <see cref="AnswerLifetime"/> is not used); null when it did not answer.</param>
    public BacklogProbe(Func<TopicPartition, BrokerOffsets?> ask, TimeProvider? time = null)
    {
        _ask = ask;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Whether <paramref name="partition"/> holds records past <paramref name="position"/> (the consumer's position;
    /// <see cref="Offset.Unset"/> before it handed over anything), by the broker's latest trusted answer; true while there is none.
    /// </summary>
    public bool HasBacklog(TopicPartition partition, Offset position)
    {
        var age = _answers.TryGetValue(partition, out var answer) ? _time.GetUtcNow() - answer.AskedAt : TimeSpan.MaxValue;
        // An answer below the position was given before the consumer's last records: it says nothing of what came since.
        var usable = answer is not null && age < 2 * AnswerLifetime && (position == Offset.Unset || answer.Offsets.High >= position.Value);
        if (age >= AnswerLifetime || !usable) Ask(partition);
        if (!usable) return true;
        var from = position == Offset.Unset ? answer!.Offsets.Start : position.Value;
        return answer!.Offsets.High > from;
    }

    /// <summary>What the broker said last of <paramref name="partition"/>, for log lines; null before it answered.</summary>
    public BrokerOffsets? Last(TopicPartition partition) => _answers.TryGetValue(partition, out var answer) ? answer.Offsets : null;

    /// <summary>Asks about <paramref name="partition"/> on a thread of its own, unless a question about it is on its way.</summary>
    private void Ask(TopicPartition partition)
    {
        if (_stopped) return;
        var thread = new Thread(() =>
        {
            try
            {
                var askedAt = _time.GetUtcNow();
                if (_ask(partition) is { } offsets) _answers[partition] = new Answer(offsets, askedAt);
            }
            catch (KafkaException)
            {
                // no answer: asked again while the partition stays silent
            }
            finally
            {
                _asking.TryRemove(partition, out _);
            }
        });
        thread.IsBackground = true;
        thread.Name = $"backlog-probe-{partition.Partition.Value}";
        if (_asking.TryAdd(partition, thread)) thread.Start();
    }

    /// <summary>Stops asking; waits for the questions on their way, so the client they use can be closed after this.</summary>
    public void Dispose()
    {
        _stopped = true;
        foreach (var thread in _asking.Values) thread.Join();
    }

    private sealed record Answer(BrokerOffsets Offsets, DateTimeOffset AskedAt);
}

/// <summary>What the broker holds of a partition: up to <paramref name="High"/> (exclusive), read from <paramref name="Start"/> when the consumer has no position.</summary>
public readonly record struct BrokerOffsets(long High, long Start);
