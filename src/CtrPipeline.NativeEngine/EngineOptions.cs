using CtrPipeline.Contracts;
using CtrPipeline.Streaming;

namespace CtrPipeline.NativeEngine;

/// <summary>The "Engine" configuration section (environment variables Engine__Id, Engine__Guarantee, Engine__CommitInterval).</summary>
public sealed class EngineOptions
{
    public const string Section = "Engine";
    public const string ExactlyOnce = "exactly-once";
    public const string AtLeastOnce = "at-least-once";

    /// <summary>native-continuous or native-microbatch.</summary>
    public string Id { get; set; } = Engines.NativeContinuous;

    /// <summary>
    /// exactly-once: result rows, side outputs, offsets and the engine's checkpoint go in one Kafka transaction per
    /// commit interval. at-least-once: rows are flushed, then offsets committed; a restart may repeat rows.
    /// </summary>
    public string Guarantee { get; set; } = ExactlyOnce;

    /// <summary>How often the output is committed (a transaction, or a flush and an offset commit).</summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Where the exactly-once engine keeps its checkpoint (per partition: read position and safe offset; the emitted
    /// window frontier), written in each transaction. Compacted, one partition; created on first use.
    /// </summary>
    public string StateTopic { get; set; } = TopicNames.EngineState;

    /// <summary>
    /// How long an assignment that lacks partitions of the events topic may last (a rebalance settling) before the
    /// engine concludes that another instance shares its group and stops. An instance that had every partition waits
    /// twice as long plus 30 s (three rebalances on the embedded broker), so that the newcomer gives up first and the running one carries on.
    /// </summary>
    public TimeSpan PartialAssignmentTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The consumer group: by default one per engine (ctr-&lt;id&gt;), so engines never share offsets. The benchmark gives
    /// each run on a shared Kafka cluster a group of its own.
    /// </summary>
    public string GroupId
    {
        get => string.IsNullOrEmpty(_groupId) ? Engines.DefaultGroupId(Id) : _groupId;
        set => _groupId = value;
    }

    private string? _groupId;

    /// <summary>Stable per engine: a restarted instance fences its predecessor and aborts its open transaction.</summary>
    public string TransactionalId => $"{GroupId}-results";

    public bool IsExactlyOnce => Guarantee == ExactlyOnce;

    public ExecutionMode Mode => Id == Engines.NativeMicroBatch ? ExecutionMode.MicroBatch : ExecutionMode.Continuous;

    /// <summary>Throws <see cref="ConfigurationException"/> naming the first bad setting.</summary>
    public EngineOptions Validate()
    {
        Engines.RequireNative(Id);
        if (Guarantee is not (ExactlyOnce or AtLeastOnce))
            throw new ConfigurationException($"Engine:Guarantee must be {ExactlyOnce} or {AtLeastOnce} (got '{Guarantee}').");
        if (CommitInterval <= TimeSpan.Zero)
            throw new ConfigurationException($"Engine:CommitInterval must be positive (got {CommitInterval}).");
        if (string.IsNullOrWhiteSpace(StateTopic))
            throw new ConfigurationException("Engine:StateTopic must not be empty.");
        if (PartialAssignmentTimeout <= TimeSpan.Zero)
            throw new ConfigurationException($"Engine:PartialAssignmentTimeout must be positive (got {PartialAssignmentTimeout}).");
        return this;
    }
}
