using CtrPipeline.Producer;

namespace Producer.Worker.Tests;

public sealed class ArrivalProcessTests
{
    private static double[] Gaps(IArrivalProcess process, int n) => [.. Enumerable.Range(0, n).Select(_ => process.NextGapSeconds())];

    [Fact]
    public void Poisson_gaps_are_exponential_with_the_requested_rate()
    {
        var gaps = Gaps(new PoissonArrivals(1000, new Random(1)), 200_000);
        var mean = gaps.Average();
        Assert.InRange(mean, 0.99e-3, 1.01e-3);
        // Exponential: the standard deviation equals the mean (coefficient of variation 1).
        var sd = Math.Sqrt(gaps.Select(g => (g - mean) * (g - mean)).Average());
        Assert.InRange(sd / mean, 0.98, 1.02);
    }

    [Fact]
    public void Same_seed_gives_the_same_schedule_and_another_seed_does_not()
    {
        var options = new ProducerOptions { Profile = "mmpp", Rate = 5000 };
        var a = Gaps(IArrivalProcess.Create(options, new Random(7)), 10_000);
        var b = Gaps(IArrivalProcess.Create(options, new Random(7)), 10_000);
        var c = Gaps(IArrivalProcess.Create(options, new Random(8)), 10_000);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Default_two_state_mmpp_has_the_requested_long_run_rate_and_a_4x_burst()
    {
        var options = new ProducerOptions { Profile = "mmpp", Rate = 1000 };
        var mmpp = (MmppArrivals)IArrivalProcess.Create(options, new Random(3));
        // normal->burst 0.1/s, burst->normal 1/s: the chain spends 1/1.1 of the time in normal.
        Assert.Equal(1 / 1.1, mmpp.Stationary[0], 9);
        Assert.Equal(0.1 / 1.1, mmpp.Stationary[1], 9);
        Assert.Equal(4 * mmpp.StateRates[0], mmpp.StateRates[1], 9);
        Assert.Equal(1000, mmpp.Stationary[0] * mmpp.StateRates[0] + mmpp.Stationary[1] * mmpp.StateRates[1], 6);

        // Simulated: about 3 hours of traffic, ~1000 bursts; the empirical rate is within 3% of the target.
        var events = 0;
        var elapsed = 0.0;
        var secondsInBurst = 0.0;
        while (elapsed < 10_000)
        {
            var gap = mmpp.NextGapSeconds();
            elapsed += gap;
            if (mmpp.State == 1) secondsInBurst += gap;
            events++;
        }
        Assert.InRange(events / elapsed, 970, 1030);
        // Gaps attributed to the state they end in over-count the burst share slightly; still far from 0 and from 1/2.
        Assert.InRange(secondsInBurst / elapsed, 0.05, 0.15);
    }

    [Fact]
    public void Stationary_distribution_of_a_three_state_chain_matches_the_closed_form()
    {
        // 0 -> 1 at 1/s, 1 -> 2 at 2/s, 2 -> 0 at 4/s: a cycle; time in a state is proportional to 1 / its leave rate.
        var q = new double[,] { { 0, 1, 0 }, { 0, 0, 2 }, { 4, 0, 0 } };
        var pi = MmppArrivals.StationaryDistribution(q);
        var total = 1.0 + 0.5 + 0.25;
        Assert.Equal(1 / total, pi[0], 9);
        Assert.Equal(0.5 / total, pi[1], 9);
        Assert.Equal(0.25 / total, pi[2], 9);
    }

    [Fact]
    public void A_silent_state_is_allowed_and_the_others_make_up_the_mean()
    {
        var mmpp = new MmppArrivals(100, [0, 1], [0, 1, 1, 0], new Random(5), new Random(6));
        Assert.Equal(0, mmpp.StateRates[0]);
        Assert.Equal(200, mmpp.StateRates[1], 9);
        var elapsed = 0.0;
        var events = 0;
        while (elapsed < 5_000) { elapsed += mmpp.NextGapSeconds(); events++; }
        Assert.InRange(events / elapsed, 95, 105);
    }
}
