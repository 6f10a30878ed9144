using CtrPipeline.Contracts;
using CtrPipeline.Streaming;

namespace NativeEngine.Worker;

/// <summary>The "Engine" configuration section (environment variables Engine__Id, Engine__CommitInterval).</summary>
public sealed class EngineOptions
{
    public const string Section = "Engine";

    /// <summary>native-continuous or native-microbatch.</summary>
    public string Id { get; set; } = Engines.NativeContinuous;

    /// <summary>How often the producer is flushed and the safe offsets are committed.</summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>One consumer group per engine, so engines never share offsets.</summary>
    public string GroupId => $"ctr-{Id}";

    public ExecutionMode Mode => Id == Engines.NativeMicroBatch ? ExecutionMode.MicroBatch : ExecutionMode.Continuous;

    /// <summary>Throws <see cref="ConfigurationException"/> naming the first bad setting.</summary>
    public EngineOptions Validate()
    {
        Engines.RequireNative(Id);
        if (CommitInterval <= TimeSpan.Zero)
            throw new ConfigurationException($"Engine:CommitInterval must be positive (got {CommitInterval}).");
        return this;
    }
}

/// <summary>A consistent snapshot of the engine's counters.</summary>
/// <param name="Bad">Malformed records plus unknown ads: what went to the dead-letter topic.</param>
/// <param name="DeliveryErrors">Records the producer could not deliver; after the first one offsets stop being committed.</param>
/// <param name="ConsumerLag">Records in the assigned partitions past the consumer's position.</param>
/// <param name="Watermark">Event-time watermark, epoch ms; long.MinValue before any record, long.MaxValue once drained.</param>
/// <param name="OpenWindows">(window, campaign) rows not final yet: the engine's state size.</param>
public sealed record EngineProgress(
    long Consumed, long Accepted, long Late, long Bad, long ResultsPublished, long DeliveryErrors, long ConsumerLag, long Watermark, int OpenWindows)
{
    public static EngineProgress None { get; } = new(0, 0, 0, 0, 0, 0, 0, long.MinValue, 0);
}
