namespace CtrPipeline.Bench.Verification;

/// <summary>
/// How the oracle gets a run's events: started before the load, completed after the engine's end of input. Disposing
/// it stops whatever still runs (a tap process).
/// </summary>
public interface IEventsRecording : IDisposable
{
    /// <summary>What the report says: live (in a process of its own) or after-load.</summary>
    EventsRead Read { get; }

    /// <summary>Why this read was chosen, for the run's log.</summary>
    string Reason { get; }

    /// <summary>Processes of the apparatus this recording runs (a tap process), for their cost.</summary>
    IReadOnlyList<int> ProcessIds { get; }

    /// <summary>Every event of the topic up to its current end, parsed.</summary>
    Task<RecordedEvents> CompleteAsync(TimeSpan timeout, CancellationToken cancel);
}

/// <summary>The events a recording read, the records it read on the events topic (parsed or not), and those lost to retention before it read them.</summary>
public sealed record RecordedEvents(IReadOnlyList<TappedEvent> Events, long EventRecords, long Lost);
