namespace CtrPipeline.Contracts;

/// <summary>Topic names, bound from the "Pipeline:Topics" configuration section.</summary>
public sealed class TopicNames
{
    public string Events { get; set; } = "events";
    public string Results { get; set; } = "ctr_results";
    public string DeadLetters { get; set; } = "events_dlq";
    public string Late { get; set; } = "events_late";

    public IReadOnlyList<string> All => [Events, Results, DeadLetters, Late];

    /// <summary>Every topic named &lt;prefix&gt;-&lt;name&gt;: one benchmark run's own topics on a shared cluster.</summary>
    public TopicNames WithPrefix(string prefix) => new()
    {
        Events = Scoped(prefix, Events),
        Results = Scoped(prefix, Results),
        DeadLetters = Scoped(prefix, DeadLetters),
        Late = Scoped(prefix, Late),
    };

    /// <summary>
    /// A topic, consumer group or state topic of one benchmark run on a shared cluster: &lt;prefix&gt;-&lt;name&gt;, or
    /// <paramref name="name"/> itself without a prefix. The Bench and the AppHost name a run's resources with it alike.
    /// </summary>
    public static string Scoped(string? prefix, string name) => prefix is null ? name : $"{prefix}-{name}";

    /// <summary>The exactly-once native engine's checkpoint topic, by default (Engine:StateTopic).</summary>
    public const string EngineState = "ctr_engine_state";
}
