namespace CtrPipeline.Contracts;

/// <summary>Topic names, bound from the "Pipeline:Topics" configuration section.</summary>
public sealed class TopicNames
{
    public string Events { get; set; } = "events";
    public string Results { get; set; } = "ctr_results";
    public string DeadLetters { get; set; } = "events_dlq";
    public string Late { get; set; } = "events_late";

    public IReadOnlyList<string> All => [Events, Results, DeadLetters, Late];
}
