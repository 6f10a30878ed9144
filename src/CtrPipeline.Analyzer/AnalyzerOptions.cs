using CtrPipeline.Contracts;

namespace CtrPipeline.Analyzer;

/// <summary>The "Analyzer" configuration section.</summary>
public sealed class AnalyzerOptions
{
    public const string Section = "Analyzer";

    public string GroupId { get; set; } = "ctr-analyzer";

    /// <summary>How often the live summary is logged (and written to SummaryPath).</summary>
    public TimeSpan SummaryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Optional JSON file that receives the summary at every interval and at stop.</summary>
    public string? SummaryPath { get; set; }

    /// <summary>The default of <see cref="Warmup"/>, which the benchmark's --warmup and workload files share.</summary>
    public static readonly TimeSpan DefaultWarmup = TimeSpan.FromSeconds(10);

    /// <summary>The start of the load left out of the percentiles (and at least its first window); zero keeps every row.</summary>
    public TimeSpan Warmup { get; set; } = DefaultWarmup;

    public AnalyzerOptions Validate()
    {
        if (SummaryInterval <= TimeSpan.Zero) throw new ConfigurationException($"Analyzer:SummaryInterval must be positive (got {SummaryInterval}).");
        if (Warmup < TimeSpan.Zero) throw new ConfigurationException($"Analyzer:Warmup must not be negative (got {Warmup}).");
        if (string.IsNullOrWhiteSpace(GroupId)) throw new ConfigurationException("Analyzer:GroupId must not be empty.");
        return this;
    }
}
