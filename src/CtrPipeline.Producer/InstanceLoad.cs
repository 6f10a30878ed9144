using CtrPipeline.Contracts;

namespace CtrPipeline.Producer;

/// <summary>
/// What one producer instance sends: when (its arrivals) and what (its events). Both follow from the options alone
/// (Seed, Instance, Instances) and the schedule, never from the clock, so a run's load is the same every time it is
/// made with the same seed and number of instances.
/// </summary>
public sealed record InstanceLoad(IArrivalProcess Arrivals, EventGenerator Generator)
{
    /// <param name="partitions">Partitions of the events topic (a skewed load chooses them).</param>
    public static InstanceLoad Create(ProducerOptions options, CampaignCatalog catalog, int partitions)
    {
        // One stream for both, drawn from alternately: the event made for a due time, then the gap to the next.
        var random = options.InstanceRandom();
        return new InstanceLoad(IArrivalProcess.Create(options, random), new EventGenerator(options, catalog, random, partitions));
    }
}
