namespace CtrPipeline.Streaming;

/// <summary>
/// An engine worker that runs in-process against Kafka (the native engines, the SQL engine): what the headless
/// benchmark and the tests drive, and what the worker programs host.
/// </summary>
public interface IEngineRunner
{
    /// <summary>The latest counters; safe to read from any thread.</summary>
    EngineProgress Progress { get; }

    /// <summary>Completes once the consumer group has given the engine its partitions.</summary>
    Task Assigned { get; }

    /// <summary>The engine's loop; ends when <paramref name="cancel"/> fires or after <see cref="DrainAsync"/>.</summary>
    Task RunAsync(CancellationToken cancel);

    /// <summary>End of input: every window is finalized and published, then the loop stops.</summary>
    Task DrainAsync(CancellationToken cancel);
}

/// <summary>A consistent snapshot of an engine's counters.</summary>
/// <param name="Bad">Malformed records, unknown ads and event times out of range: what went to the dead-letter topic.</param>
/// <param name="DeliveryErrors">Records the producer could not deliver; after the first one offsets stop being committed.</param>
/// <param name="ConsumerLag">Records in the assigned partitions past the consumer's position.</param>
/// <param name="Watermark">Event-time watermark, epoch ms; long.MinValue before any record, long.MaxValue once drained.</param>
/// <param name="OpenWindows">(window, campaign) rows not final yet: the engine's state size (the SQL engine reports rows not aggregated yet instead).</param>
public sealed record EngineProgress(
    long Consumed, long Accepted, long Late, long Bad, long ResultsPublished, long DeliveryErrors, long ConsumerLag, long Watermark, int OpenWindows)
{
    public static EngineProgress None { get; } = new(0, 0, 0, 0, 0, 0, 0, long.MinValue, 0);
}
