using System.Text.Json.Serialization;

namespace CtrPipeline.Bench.Reporting;

/// <summary>One result row the analyzer measured: seconds since the run's load started when it was read, its L1 and L2 in ms.</summary>
public readonly record struct LatencySample(double AtSeconds, double L1Ms, double L2Ms);

/// <summary>Load every half second of a run: the producer's offered rate and the engine's consumption, in events/s, and the backlog.</summary>
public readonly record struct LoadSample(double AtSeconds, double OfferedRate, double ConsumedRate, long ConsumerLag);

/// <summary>One engine under one workload, with the samples the plots are drawn from. <see cref="EngineRunReport.Engine"/> is the bench target (e.g. sql-postgres).</summary>
public sealed record RunData(EngineRunReport Report, IReadOnlyList<LatencySample> Latencies, IReadOnlyList<LoadSample> Load);

/// <summary>One rate the sustainable-throughput search tried.</summary>
public sealed record SearchStep(double Rate, bool Sustained, long MaxConsumerLag, double LagTrendPerSecond, double L1P99Ms, string Verdict)
{
    /// <summary>False where the engine ran as a service: its consumer lag was not seen, only its results.</summary>
    public bool LagSeen { get; init; } = true;

    /// <summary>How far the newest final window trailed the clock at most (<see cref="FinalsTracker"/>), ms.</summary>
    public double FinalsBehindMs { get; init; }
}

/// <summary>
/// The highest rate at which the engine's consumer lag stayed bounded (Karimov et al., ICDE 2018), confirmed by a longer
/// run: <see cref="SustainableRate"/> is the rate whose confirmation passed, 0 when none did. <see cref="SearchRate"/>
/// is what the short steps alone suggested; a confirmation that fails refutes it.
/// </summary>
public sealed record ThroughputSearch(string Engine, string Profile, double SustainableRate, IReadOnlyList<SearchStep> Steps, IReadOnlyList<SearchStep> Confirmations)
{
    /// <summary>The highest rate a search step sustained (not yet confirmed).</summary>
    public double SearchRate => Steps.Where(s => s.Sustained).Select(s => s.Rate).DefaultIfEmpty(0).Max();

    /// <summary>
    /// Every rate tried was sustained and the confirmation at the highest of them passed: the engine's limit lies above
    /// the search's maximum, the figure is a lower bound.
    /// </summary>
    public bool LowerBound => Steps.Count > 0 && Steps.All(s => s.Sustained)
        && Confirmations.Any(c => c.Sustained && c.Rate == Steps.Max(s => s.Rate));

    /// <summary>"45,000", "≥ 160,000" or "none" (also when no confirmation passed).</summary>
    public string SustainableText => SustainableRate <= 0 ? "none"
        : (LowerBound ? "≥ " : "") + SustainableRate.ToString("#,0", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>An engine the benchmark asked for that this mode cannot run, and why.</summary>
public sealed record SkippedEngine(string Engine, string Reason);

/// <summary>Where the numbers were measured.</summary>
public sealed record MachineInfo(string Os, string Cpu, int Cores, [property: JsonPropertyName("memory_gib")] double MemoryGiB, string Runtime)
{
    public static MachineInfo Current()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        return new MachineInfo(System.Runtime.InteropServices.RuntimeInformation.OSDescription, cpu ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(),
            Environment.ProcessorCount, Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024), 1),
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
    }
}

/// <summary>Everything one benchmark measured: what <see cref="ReportWriter"/> turns into report.md, CSV/JSON and plots.</summary>
/// <param name="Workload">The workload's name (its file name, or "command line").</param>
/// <param name="Settings">The settings every run shared, as "name: value" pairs in display order (window, watermark, partitions, broker...).</param>
public sealed record BenchmarkResults(
    string Workload,
    DateTimeOffset Started,
    DateTimeOffset Finished,
    MachineInfo Machine,
    IReadOnlyList<KeyValuePair<string, string>> Settings,
    IReadOnlyList<RunData> Runs,
    IReadOnlyList<ThroughputSearch> Searches,
    IReadOnlyList<SkippedEngine> Skipped);
