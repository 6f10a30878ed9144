using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using CtrPipeline.Bench.Measurement;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// <see cref="ProcessCost"/> against what shells started here say they burned: the `times` builtin reports the CPU of
/// the shell and of the children it reaped (times(2)), an account independent of /proc's parsing and the tree walk.
/// </summary>
public sealed partial class ProcessCostTests
{
    /// <summary>About a second of one core in dash; a fixed amount of work, however busy the machine is.</summary>
    private const string Busy = "i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done";

    public static TheoryData<string, string> Scripts => new()
    {
        // Each waits for "go" (the start sample), burns, prints `times` from the shell that holds the work, waits for the end sample.
        { "its own", $"read go; {Busy}; times; read x" },
        // The outer shell waits for the inner one (not the last command, so not exec'ed), which is alive when sampled.
        { "a live grandchild", $"sh -c 'read go; {Busy}; times; read x'; true" },
        // The inner shell exits before the end sample: its ticks are in the outer one's cutime.
        { "a reaped grandchild", $"read go; sh -c '{Busy}'; times; read x" },
    };

    [LinuxTheory]
    [MemberData(nameof(Scripts))]
    public async Task The_cpu_a_process_tree_burned_reads_within_a_fifth(string what, string script)
    {
        using var child = Shell(script);
        try
        {
            using var cost = ProcessCost.Of([child.Id])!;
            var start = cost.Sample();
            await child.StandardInput.WriteLineAsync("go");
            await child.StandardInput.FlushAsync();
            var times = await child.StandardOutput.ReadLineAsync() + " " + await child.StandardOutput.ReadLineAsync();
            var burned = Times().Matches(times).Sum(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 60 + double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));

            var spent = cost.Sample().Since(start);

            Assert.True(burned >= 0.2, $"the busy loop burned only {burned:0.00} s ({times}): the test would prove nothing");
            Assert.True(Math.Abs(spent.CpuSeconds - burned) <= 0.2 * burned, $"{what}: read {spent.CpuSeconds:0.00} s of CPU, the shell says {burned:0.00} s ({times})");
            Assert.InRange(spent.AverageCores!.Value, 0.01, 1.2); // one busy thread at most
        }
        finally
        {
            child.Kill(entireProcessTree: true);
        }
    }

    [LinuxFact]
    public async Task A_child_that_touches_200_mib_peaks_at_200_to_400_mib()
    {
        // dd reads 200 MiB of zeros into its buffer (touching every page), then blocks writing to a pipe nobody reads.
        using var child = Shell("dd if=/dev/zero bs=200M count=1 status=none | sleep 60");
        try
        {
            using var cost = ProcessCost.Of([child.Id])!;
            const long MiB = 1024 * 1024;
            var peak = await ReadUntil(() => cost.Sample().PeakRssBytes, p => p >= 200 * MiB, TimeSpan.FromSeconds(30));

            Assert.InRange(peak, 200 * MiB, 400 * MiB - 1);
        }
        finally
        {
            child.Kill(entireProcessTree: true);
        }
    }

    [LinuxFact]
    public async Task A_launchers_child_is_found_by_its_parent_pid()
    {
        // Not exec'ed: the shell waits for the sleep, as `dotnet run` waits for the project it started.
        using var child = Shell("sleep 30; true");
        try
        {
            var children = await ReadUntil(() => ProcessCost.Children(child.Id), c => c.Count > 0, TimeSpan.FromSeconds(10));

            var sleep = Assert.Single(children);
            Assert.Equal("sleep", Process.GetProcessById(sleep).ProcessName);
            Assert.Empty(ProcessCost.Children(sleep));
        }
        finally
        {
            child.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void Off_linux_there_is_no_cost_rather_than_a_zero_one()
    {
        using var cost = ProcessCost.Of([Environment.ProcessId]);
        using var apparatus = ProcessCost.OfApparatus([]);

        Assert.Equal(OperatingSystem.IsLinux(), cost is not null);
        Assert.Equal(OperatingSystem.IsLinux(), apparatus is not null);
    }

    [Fact]
    public void A_stat_line_is_read_past_a_command_name_with_spaces_and_parentheses()
    {
        var line = "4242 (my (odd) name) S 17 4242 4242 0 -1 4194560 900 0 0 0 150 25 7 3 20 0 4 0 123456 1000000 2000 0 0";

        var stat = ProcStat.Parse(line);

        Assert.Equal(new ProcStat(4242, 17, 175, 10, 123456), stat);
        Assert.Null(ProcStat.Parse("4242 (truncated) S 17"));
    }

    /// <summary>Reads until the reading is <paramref name="enough"/> or <paramref name="limit"/> has passed; the last reading either way.</summary>
    private static async Task<T> ReadUntil<T>(Func<T> read, Func<T, bool> enough, TimeSpan limit)
    {
        var deadline = Stopwatch.StartNew();
        var reading = read();
        while (!enough(reading) && deadline.Elapsed < limit)
        {
            await Task.Delay(50);
            reading = read();
        }
        return reading;
    }

    private static Process Shell(string script) =>
        Process.Start(new ProcessStartInfo("/bin/sh", ["-c", script]) { RedirectStandardInput = true, RedirectStandardOutput = true })!;

    /// <summary>One figure of `times`: 0m1.230000s (dash) or 0m1.230s (bash).</summary>
    [GeneratedRegex(@"(\d+)m([\d.]+)s")]
    private static partial Regex Times();
}
