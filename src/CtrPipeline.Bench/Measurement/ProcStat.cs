using System.Globalization;

namespace CtrPipeline.Bench.Measurement;

/// <summary>
/// The fields of /proc/&lt;pid&gt;/stat that cost needs (proc(5)): its parent, its own CPU ticks (utime + stime), the
/// ticks of the children it reaped (cutime + cstime) and its start time, which tells a reused pid apart.
/// </summary>
internal readonly record struct ProcStat(int Id, int ParentId, long OwnTicks, long ReapedTicks, long StartTicks)
{
    /// <summary>Parses the line; the command name (field 2) is in parentheses and may hold spaces and parentheses itself.</summary>
    public static ProcStat? Parse(string line)
    {
        var open = line.IndexOf('(');
        var close = line.LastIndexOf(')');
        if (open < 0 || close < open) return null;
        // After the name: field 3 (state) is at index 0, so field n is at index n - 3.
        var fields = line[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 20) return null;
        long Field(int n) => long.Parse(fields[n - 3], CultureInfo.InvariantCulture);
        return new ProcStat(int.Parse(line.AsSpan(0, open).Trim(), CultureInfo.InvariantCulture), (int)Field(4),
            Field(14) + Field(15), Field(16) + Field(17), Field(22));
    }
}
