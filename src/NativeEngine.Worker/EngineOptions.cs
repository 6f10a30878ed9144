using CtrPipeline.Contracts;
using CtrPipeline.Streaming;

namespace NativeEngine.Worker;

/// <summary>The "Engine" configuration section.</summary>
public sealed class EngineOptions
{
    public const string Section = "Engine";

    /// <summary>native-continuous or native-microbatch.</summary>
    public string Id { get; set; } = Engines.NativeContinuous;

    /// <summary>How often deliveries are flushed and safe offsets committed.</summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromSeconds(1);

    public string GroupId => $"ctr-{Id}";

    public ExecutionMode Mode => Id == Engines.NativeMicroBatch ? ExecutionMode.MicroBatch : ExecutionMode.Continuous;

    public EngineOptions Validate()
    {
        Engines.RequireNative(Id);
        if (CommitInterval <= TimeSpan.Zero) throw new ConfigurationException($"Engine:CommitInterval must be positive (got {CommitInterval}).");
        return this;
    }
}

/// <summary>A consistent view of the engine's counters.</summary>
public sealed record EngineProgress(long Consumed, long Accepted, long Late, long Bad, long ResultsPublished, long DeliveryErrors, long ConsumerLag, long Watermark, int OpenWindows);
