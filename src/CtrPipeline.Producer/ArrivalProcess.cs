using CtrPipeline.Contracts;

namespace CtrPipeline.Producer;

/// <summary>When the next event arrives: the gaps between arrivals of a point process, in seconds.</summary>
public interface IArrivalProcess
{
    double NextGapSeconds();

    /// <summary>The current state's rate, events/s (constant for Poisson).</summary>
    double CurrentRate { get; }

    int State { get; }

    /// <summary>
    /// The arrivals of one instance (<see cref="ProducerOptions.Instance"/>): its share of the rate, drawn from
    /// <paramref name="random"/>, its own stream. An MMPP's bursts come from the run's shared stream, so every instance
    /// is in the same state at the same time and together they are the MMPP of the whole rate.
    /// </summary>
    static IArrivalProcess Create(ProducerOptions options, Random random)
    {
        var rate = options.Rate / options.Instances;
        return options.Profile switch
        {
            TrafficProfiles.Mmpp => new MmppArrivals(rate, options.MmppRateMultipliersOrDefault, options.MmppSwitchRatesOrDefault, options.SharedRandom(SharedStream.MmppStates), random),
            _ => new PoissonArrivals(rate, random),
        };
    }
}
