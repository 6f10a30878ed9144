using System.Collections.Concurrent;
using Confluent.Kafka;

namespace CtrPipeline.Kafka;

/// <summary>
/// Whether the broker holds records of a partition that the consumer has not handed over yet, for the watermark's
/// idleness rule: a silent partition with such records is slow, not idle. A consumer that has handed over nothing of a
/// partition since its assignment has no position, and its cached high watermark says nothing of a partition whose
/// fetches stall (a slow leader, or a backlog that a real broker delivers a few partitions at a time); so the broker is
/// asked (its high watermark, and where the consumer starts: the committed offset, else the log start). The broker's
/// answers come from a thread of their own, since a broker request on the consume loop stalled it under load; until a
/// fresh answer is there, the answer is "yes": a partition is never taken for idle on a guess.
/// </summary>
public sealed class BacklogProbe : IDisposable
{
    /// <summary>How long a broker's answer is used before it is asked again.</summary>
    public static readonly TimeSpan AnswerLifetime = TimeSpan.FromSeconds(1);

    private readonly Func<TopicPartition, BrokerOffsets?> _ask;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<TopicPartition, Answer> _answers = new();
    private readonly ConcurrentDictionary<TopicPartition, bool> _pending = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _asking;

    /// <param name="ask">Asks the broker, blocking; null when it did not answer.</param>
    public BacklogProbe(Func<TopicPartition, BrokerOffsets?> ask, TimeProvider? time = null)
    {
        _ask = ask;
        _time = time ?? TimeProvider.System;
        _asking = Task.Factory.StartNew(AskLoop, TaskCreationOptions.LongRunning);
    }

    /// <summary>
    /// Whether <paramref name="partition"/> holds records past <paramref name="position"/> (the consumer's position;
    /// <see cref="Offset.Unset"/> before it handed over anything), by the broker's latest answer; true while there is none.
    /// </summary>
    public bool HasBacklog(TopicPartition partition, Offset position)
    {
        if (!_answers.TryGetValue(partition, out var answer) || _time.GetUtcNow() - answer.At >= AnswerLifetime)
        {
            if (_pending.TryAdd(partition, true)) _wake.Release();
            if (answer is null) return true;
        }
        var from = position == Offset.Unset ? answer.Offsets.Start : position.Value;
        return answer.Offsets.High > from;
    }

    /// <summary>What the broker said last of <paramref name="partition"/>, for log lines; null before it answered.</summary>
    public BrokerOffsets? Last(TopicPartition partition) => _answers.TryGetValue(partition, out var answer) ? answer.Offsets : null;

    private void AskLoop()
    {
        try
        {
            while (true)
            {
                _wake.Wait(_stop.Token);
                foreach (var partition in _pending.Keys)
                {
                    _stop.Token.ThrowIfCancellationRequested();
                    BrokerOffsets? offsets;
                    try
                    {
                        offsets = _ask(partition);
                    }
                    catch (KafkaException)
                    {
                        offsets = null; // no answer: asked again while the partition stays silent
                    }
                    if (offsets is { } o) _answers[partition] = new Answer(o, _time.GetUtcNow());
                    _pending.TryRemove(partition, out _);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops asking; waits for a request in flight, so the client it uses can be closed after this.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _asking.Wait();
        _stop.Dispose();
        _wake.Dispose();
    }

    private sealed record Answer(BrokerOffsets Offsets, DateTimeOffset At);
}

/// <summary>What the broker holds of a partition: up to <paramref name="High"/> (exclusive), read from <paramref name="Start"/> when the consumer has no position.</summary>
public readonly record struct BrokerOffsets(long High, long Start);
