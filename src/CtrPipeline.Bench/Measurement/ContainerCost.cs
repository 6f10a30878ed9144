using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace CtrPipeline.Bench.Measurement;

/// <summary>
/// The cost of containers (a Flink or Spark cluster in containers mode), from the cgroup v2 counters each one sees as
/// its own, read inside it (`docker exec &lt;id&gt; cat /sys/fs/cgroup/cpu.stat /sys/fs/cgroup/memory.peak`):
/// usage_usec, all the CPU the container's processes used, exited ones included, and memory.peak, the cgroup's peak
/// memory (kernel 5.19+). Both are cumulative, so reading them only when sampled loses nothing. Peaks of several
/// containers add up to an upper bound. The machine this was written on has no container daemon: only the parsing is
/// tested (ContainerCostTests), the exec has not run.
/// </summary>
public sealed class ContainerCost(string runtime, IReadOnlyList<string> containers) : IProcessCost
{
    private const string CpuStat = "/sys/fs/cgroup/cpu.stat", MemoryPeak = "/sys/fs/cgroup/memory.peak";
    private static readonly TimeSpan ExecTimeout = TimeSpan.FromSeconds(15);

    public CostSample Sample()
    {
        var (cpu, peak) = (0.0, 0L);
        foreach (var container in containers)
        {
            var (seconds, bytes) = Parse(Exec(container), container);
            cpu += seconds;
            peak += bytes;
        }
        return new CostSample(cpu, peak, Stopwatch.GetTimestamp());
    }

    /// <summary>CPU seconds and peak bytes from cpu.stat's lines followed by memory.peak's single number.</summary>
    internal static (double CpuSeconds, long PeakBytes) Parse(string output, string container)
    {
        long? usage = null, peak = null;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts is ["usage_usec", var micros] && long.TryParse(micros, NumberStyles.None, CultureInfo.InvariantCulture, out var u)) usage = u;
            else if (parts is [var bytes] && long.TryParse(bytes, NumberStyles.None, CultureInfo.InvariantCulture, out var p)) peak = p;
        }
        return usage is { } cpu && peak is { } max
            ? (cpu / 1e6, max)
            : throw new CostUnavailableException($"container {container} shows no cgroup v2 {(usage is null ? "cpu.stat usage_usec" : "memory.peak")}");
    }

    private string Exec(string container)
    {
        var start = new ProcessStartInfo(runtime, ["exec", container, "cat", CpuStat, MemoryPeak])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        try
        {
            using var process = Process.Start(start) ?? throw new CostUnavailableException($"{runtime} did not start");
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(ExecTimeout))
            {
                process.Kill(entireProcessTree: true);
                throw new CostUnavailableException($"{runtime} exec {container} did not answer within {ExecTimeout.TotalSeconds:0} s");
            }
            return process.ExitCode == 0 ? output.Result : throw new CostUnavailableException($"{runtime} exec {container}: {error.Result.Trim()}");
        }
        catch (Win32Exception e)
        {
            throw new CostUnavailableException($"{runtime} could not be run: {e.Message}");
        }
    }

    public void Dispose()
    {
    }
}
