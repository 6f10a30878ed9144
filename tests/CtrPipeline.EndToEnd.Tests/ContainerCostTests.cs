using CtrPipeline.Bench.Measurement;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// The cgroup v2 counters <see cref="ContainerCost"/> reads inside a container, and what becomes of a cost that cannot
/// be read. Parsing only: this machine has no container daemon to exec into.
/// </summary>
public sealed class ContainerCostTests
{
    [Fact]
    public void Cpu_stat_and_memory_peak_give_cpu_seconds_and_peak_bytes()
    {
        // `cat cpu.stat memory.peak` in a container of a cgroup v2 host.
        const string Output = """
            usage_usec 12345678
            user_usec 10000000
            system_usec 2345678
            nr_periods 0
            nr_throttled 0
            throttled_usec 0
            nr_bursts 0
            burst_usec 0
            734003200

            """;

        var (cpu, peak) = ContainerCost.Parse(Output, "flink-taskmanager");

        Assert.Equal(12.345678, cpu, 6);
        Assert.Equal(734_003_200, peak);
    }

    [Theory]
    [InlineData("usage_usec 12345678\nuser_usec 10000000\n")] // a kernel without memory.peak
    [InlineData("734003200\n")]                                 // no cpu.stat: cgroup v1
    [InlineData("")]
    public void Counters_that_are_missing_are_unavailable_not_zero(string output) =>
        Assert.Throws<CostUnavailableException>(() => ContainerCost.Parse(output, "spark-connect-server"));

    [Fact]
    public void A_cost_that_cannot_be_read_is_none_and_one_that_can_is_measured()
    {
        var counter = new Counter();
        var meter = new CostMeter(engine: counter, apparatus: new Unreadable());

        meter.Start();
        counter.Cpu = 3;
        meter.Stop();
        counter.Cpu = 100; // after the window: not counted
        meter.Stop();

        Assert.Equal(3, meter.Engine!.CpuSeconds);
        Assert.Equal(1.5, meter.Engine.CpuSecondsPerMillion(2_000_000));
        Assert.Null(meter.Engine.CpuSecondsPerMillion(0)); // no events: no ratio
        Assert.Null(meter.Apparatus);
    }

    private sealed class Counter : IProcessCost
    {
        public double Cpu { get; set; }

        public CostSample Sample() => new(Cpu, 1024, System.Diagnostics.Stopwatch.GetTimestamp());

        public void Dispose()
        {
        }
    }

    private sealed class Unreadable : IProcessCost
    {
        public CostSample Sample() => throw new CostUnavailableException("no daemon");

        public void Dispose()
        {
        }
    }
}
