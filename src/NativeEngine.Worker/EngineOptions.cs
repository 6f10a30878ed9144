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
