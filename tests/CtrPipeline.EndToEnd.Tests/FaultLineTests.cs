using CtrPipeline.Bench.Faults;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>The FAULTS line's cost figures: the engine processes' CPU per million events and peak memory, none when not measured.</summary>
public sealed class FaultLineTests
{
    private static readonly FaultResult Result = new("native-continuous", "kill", 1, new FaultCounts(0, 0, 0, 0, 0, 0, 0, 120, 600_000, 0, []),
        ExactlyOnce: false, Notes: [], SecondInstance: null, Hostile: []);

    [Fact]
    public void The_faults_line_ends_with_the_engines_cost_or_none()
    {
        var measured = Result with { CpuSecondsPerMillionEvents = 7.654, PeakRssMb = 110.76 };

        Assert.EndsWith(" late=0 cpu_s_per_million_events=7.65 peak_rss_mb=110.8", measured.Line);
        Assert.EndsWith(" late=0 cpu_s_per_million_events=none peak_rss_mb=none", Result.Line);
    }
}
