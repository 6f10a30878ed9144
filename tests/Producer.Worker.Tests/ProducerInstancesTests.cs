using CtrPipeline.Contracts;
using CtrPipeline.Producer;

namespace Producer.Worker.Tests;

/// <summary>Several producer instances sharing one load, at the level of arrivals and events (no Kafka).</summary>
public sealed class ProducerInstancesTests
{
    private static readonly CampaignCatalog Catalog = CampaignCatalog.Generate(campaigns: 10, adsPerCampaign: 5);
    private const long StartMs = 1_700_000_000_000;

    /// <summary>What instance <paramref name="instance"/> sends in its first <paramref name="seconds"/>, as EventProducer makes it.</summary>
    private static List<(double Due, AdEvent Event)> Load(ProducerOptions options, int instance, int instances, double seconds)
    {
        var (arrivals, generator) = InstanceLoad.Create(options.ForInstance(instance, instances, progressTopic: null), Catalog, partitions: 4);
        var events = new List<(double, AdEvent)>();
        for (var due = arrivals.NextGapSeconds(); due < seconds; due += arrivals.NextGapSeconds())
        {
            var record = generator.Next(StartMs + (long)(due * 1000));
            Assert.True(WireFormat.TryParseEvent(record.Value, out var e, out var reason), reason);
            events.Add((due, e));
        }
        return events;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Instances_together_send_the_planned_total_with_disjoint_ids(int instances)
    {
        var options = new ProducerOptions { Rate = 20_000, Seed = 5, MalformedFraction = 0 };
        const double seconds = 10;
        var loads = Enumerable.Range(0, instances).Select(i => Load(options, i, instances, seconds)).ToList();

        // Poisson: the total count has mean rate * duration and a standard deviation of its square root.
        var expected = options.Rate * seconds;
        Assert.InRange(loads.Sum(l => l.Count), expected - 5 * Math.Sqrt(expected), expected + 5 * Math.Sqrt(expected));
        foreach (var (load, i) in loads.Select((l, i) => (l, i)))
        {
            Assert.InRange(load.Count, expected / instances - 5 * Math.Sqrt(expected / instances), expected / instances + 5 * Math.Sqrt(expected / instances));
            Assert.All(load, x => Assert.Equal(i + 1, (x.Event.EventId - 1) % instances + 1)); // instance i numbers i + 1, i + 1 + N, ...
        }
        var ids = loads.SelectMany(l => l.Select(x => x.Event.EventId)).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void The_same_seed_and_instances_give_the_same_events_and_another_seed_does_not()
    {
        static ProducerOptions Options(int seed) => new() { Rate = 6_000, Seed = seed, OutOfOrderFraction = 0.1, MalformedFraction = 0, Profile = TrafficProfiles.Mmpp };
        static List<string> Run(ProducerOptions o) => [.. Enumerable.Range(0, 3).SelectMany(i => Load(o, i, 3, 5)).Select(x => $"{x.Due:R} {x.Event}")];

        var first = Run(Options(9));
        Assert.Equal(first, Run(Options(9)));
        Assert.NotEqual(first, Run(Options(10)));
        // The instances of one run differ from each other.
        Assert.NotEqual(Load(Options(9), 0, 3, 1).Select(x => x.Due), Load(Options(9), 1, 3, 1).Select(x => x.Due));
    }

    [Fact]
    public void Instances_agree_on_every_ads_true_ctr()
    {
        var options = new ProducerOptions { Seed = 3 };
        double[] Ctrs(ProducerOptions o) =>
            [.. Enumerable.Range(0, Catalog.Ads.Count).Select(InstanceLoad.Create(o, Catalog, 4).Generator.TrueCtr)];

        var first = Ctrs(options.ForInstance(0, 4, null));
        Assert.Equal(first, Ctrs(options.ForInstance(3, 4, null)));
        Assert.Equal(first, Ctrs(options.ForInstance(0, 1, null)));
        Assert.NotEqual(first, Ctrs(new ProducerOptions { Seed = 4 }));
    }

    /// <summary>The states the MMPP of one instance goes through and when each began (the chain's own times).</summary>
    private static List<(double EnteredAt, int State)> States(ProducerOptions options, int instance, int instances, double seconds)
    {
        var mmpp = (MmppArrivals)InstanceLoad.Create(options.ForInstance(instance, instances, null), Catalog, 4).Arrivals;
        var states = new List<(double, int)> { (mmpp.StateEnteredAt, mmpp.State) };
        for (var t = 0.0; t < seconds; t += mmpp.NextGapSeconds())
            if (states[^1] != (mmpp.StateEnteredAt, mmpp.State)) states.Add((mmpp.StateEnteredAt, mmpp.State));
        return states;
    }

    [Fact]
    public void Mmpp_instances_are_in_the_same_state_at_the_same_time()
    {
        // 30,000 events/s shared by three: 10,000 each, enough that every state, even a short burst, sees arrivals.
        var options = new ProducerOptions { Profile = TrafficProfiles.Mmpp, Rate = 30_000, Seed = 21 };
        var states = Enumerable.Range(0, 3).Select(i => States(options, i, 3, 300)).ToList();

        Assert.InRange(states[0].Count(s => s.State == 1), 10, 100); // about 30 bursts in 300 s at 0.1/s
        Assert.Equal(states[0], states[1]);
        Assert.Equal(states[0], states[2]);
        Assert.Equal(states[0], States(options, 0, 1, 300)); // and the same bursts as a single producer's
        Assert.NotEqual(states[0], States(new ProducerOptions { Profile = TrafficProfiles.Mmpp, Rate = 30_000, Seed = 22 }, 0, 3, 300));
    }
}
