using System.Diagnostics;
using System.Globalization;

namespace CtrPipeline.Bench.Measurement;

/// <summary>
/// The cost of processes on Linux, read from /proc: each root process, with its descendants (found by their parent
/// pid) unless told otherwise, since a service may run under a launcher such as `dotnet run`.
/// <para>
/// CPU is utime + stime (/proc/&lt;pid&gt;/stat fields 14, 15) of every process of a tree, and, when descendants
/// count, cutime + cstime (fields 16, 17): a descendant that exits is reaped by its parent in the tree, which moves its
/// ticks there, so they stay counted. The limit: a process that exits and is reaped outside the tree (a root, or an
/// orphan re-parented to init) loses the ticks it burned since the last poll. The trees are polled every second, so
/// that is at most a second's worth, and a root that exited keeps its last reading.
/// </para>
/// <para>
/// Peak memory is the sum of the live processes' VmHWM (/proc/&lt;pid&gt;/status, each one's peak resident set
/// since it started), the highest sum any poll saw: an upper bound on their joint peak; a process that came and went
/// between two polls is missed.
/// </para>
/// The root list is read at every poll: a pid added to it later is counted from then on, whole if it started since.
/// </summary>
public sealed class ProcessCost : IProcessCost
{
    /// <summary>USER_HZ, the unit of /proc's times: 100 in the kernel's ABI whatever its internal tick (getconf CLK_TCK).</summary>
    private const double TicksPerSecond = 100;

    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private readonly IReadOnlyList<int> _roots;
    private readonly bool _descendants;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, Reading> _readings = [];
    private readonly Timer _poll;
    private long _peak;

    private ProcessCost(IReadOnlyList<int> roots, bool descendants)
    {
        _roots = roots;
        _descendants = descendants;
        _poll = new Timer(_ => Sample(), null, PollInterval, PollInterval);
    }

    /// <summary>The cost of <paramref name="roots"/> (a list that may grow) and their descendants; null off Linux, which has no /proc.</summary>
    public static ProcessCost? Of(IReadOnlyList<int> roots, bool descendants = true) =>
        OperatingSystem.IsLinux() ? new ProcessCost(roots, descendants) : null;

    /// <summary>
    /// The apparatus: this process alone (under the services host the AppHost's DCP, broker and engine are its
    /// descendants, and not the apparatus), and <paramref name="others"/> (the load's own processes) with their
    /// descendants; null off Linux.
    /// </summary>
    public static IProcessCost? OfApparatus(IReadOnlyList<int> others) =>
        OperatingSystem.IsLinux() ? new CostSum([new ProcessCost([Environment.ProcessId], descendants: false), new ProcessCost(others, descendants: true)]) : null;

    /// <summary>The processes whose parent is <paramref name="parent"/> (Linux).</summary>
    public static IReadOnlyList<int> Children(int parent) => [.. AllStats().Where(s => s.ParentId == parent).Select(s => s.Id)];

    public CostSample Sample()
    {
        lock (_gate)
        {
            ILookup<int, ProcStat>? children = null; // every process by its parent, read once a poll if needed
            var alive = 0L;
            // By index: the list may grow while it is read.
            for (var i = 0; i < _roots.Count; i++)
            {
                var root = _roots[i];
                if (ReadStat(root) is not { } stat) continue; // gone: its last CPU reading stands
                if (_readings.TryGetValue(root, out var last) && last.StartTicks != stat.StartTicks) continue; // the pid now names another process
                var reading = _readings[root] = _descendants
                    ? Tree(stat, children ??= AllStats().ToLookup(s => s.ParentId))
                    : new Reading(stat.StartTicks, stat.OwnTicks, PeakRss(root));
                alive += reading.PeakRssBytes;
            }
            _peak = Math.Max(_peak, alive);
            return new CostSample(_readings.Values.Sum(r => r.CpuTicks) / TicksPerSecond, _peak, Stopwatch.GetTimestamp());
        }
    }

    private static Reading Tree(ProcStat root, ILookup<int, ProcStat> children)
    {
        var (ticks, peak) = (0L, 0L);
        var pending = new Stack<ProcStat>([root]);
        while (pending.TryPop(out var process))
        {
            ticks += process.OwnTicks + process.ReapedTicks;
            peak += PeakRss(process.Id);
            foreach (var child in children[process.Id]) pending.Push(child);
        }
        return new Reading(root.StartTicks, ticks, peak);
    }

    private static IEnumerable<ProcStat> AllStats()
    {
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && ReadStat(pid) is { } stat)
                yield return stat;
    }

    private static ProcStat? ReadStat(int pid)
    {
        try
        {
            return ProcStat.Parse(File.ReadAllText($"/proc/{pid}/stat"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // ended while being read
        }
    }

    /// <summary>VmHWM in bytes; 0 for a zombie (it has no memory left) or a process that just ended.</summary>
    private static long PeakRss(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return 0;
    }

    public void Dispose() => _poll.Dispose();

    /// <summary>What a root's tree had cost at the last poll that saw it.</summary>
    private readonly record struct Reading(long StartTicks, long CpuTicks, long PeakRssBytes);
}
