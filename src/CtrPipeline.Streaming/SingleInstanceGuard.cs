using CtrPipeline.Contracts;

namespace CtrPipeline.Streaming;

/// <summary>
/// The rule for an engine that keeps every window of every partition in one process (the native and SQL engines):
/// it publishes only while it holds every partition of the events topic. An assignment that stays partial means
/// another instance shares the consumer group; the engine then stops with one line (<see cref="WorkerFailedException"/>).
/// A newcomer, which never held every partition, gives up after <c>timeout</c>; an incumbent waits twice as long
/// plus the time a refused newcomer needs to leave, and carries on when its partitions come back.
/// </summary>
/// <param name="engine">How the line names the engine: "native-continuous", "The SQL engine".</param>
/// <param name="advice">The line's last sentence: why the engine stops and what to run instead.</param>
public sealed class SingleInstanceGuard(string engine, string groupId, string topic, TimeSpan timeout, string advice)
{
    /// <summary>Three rebalances on the embedded broker (9 s each): the time a refused newcomer needs to leave and its partitions to come back.</summary>
    private static readonly TimeSpan IncumbentExtraWait = TimeSpan.FromSeconds(30);

    private TimeSpan? _partialSince;

    /// <summary>The engine held every partition at some point: it is the incumbent, not a newcomer.</summary>
    public bool HadEveryPartition { get; private set; }

    /// <summary>
    /// Whether <paramref name="held"/> covers all <paramref name="partitionCount"/> partitions at monotonic time
    /// <paramref name="now"/>; throws once the assignment has stayed partial (or empty) for too long.
    /// </summary>
    public bool HoldsEveryPartition(IReadOnlyCollection<int> held, int partitionCount, TimeSpan now)
    {
        if (held.Count > 0 && held.Count >= partitionCount)
        {
            _partialSince = null;
            HadEveryPartition = true;
            return true;
        }
        _partialSince ??= now;
        var limit = HadEveryPartition ? timeout * 2 + IncumbentExtraWait : timeout;
        if (now - _partialSince < limit) return false;
        throw new WorkerFailedException(
            $"{engine} holds {(held.Count == 0 ? "no partition" : "partitions " + string.Join(", ", held.Order()))} of the {partitionCount} of {topic}: " +
            $"another instance shares consumer group {groupId}. {advice}");
    }
}
