using System.Text.Json;
using System.Text.Json.Serialization;
using CtrPipeline.Analyzer;
using CtrPipeline.Contracts;
using static CtrPipeline.Contracts.ConfigurationException;

namespace CtrPipeline.Bench;

/// <summary>
/// What a benchmark runs, like an OpenMessaging Benchmark workload: the matrix engines x profiles x rates x durations,
/// the pipeline settings they share and, optionally, a sustainable-throughput search per engine. Read from a JSON file
/// (see workloads/ in the repository) or built from the command line; command-line options override the file.
/// Settable properties: the JSON source generator keeps a default only for a settable property the file leaves out.
/// </summary>
public sealed record Workload
{
    public string Name { get; set; } = "default";
    public string Engines { get; set; } = "all";
    public string[] Profiles { get; set; } = [TrafficProfiles.Poisson, TrafficProfiles.Mmpp];
    public double[] Rates { get; set; } = [5_000];
    public string[] Durations { get; set; } = ["30s"];
    // The pipeline's settings default to the settings types' own defaults, written there once.
    public string Window { get; set; } = Contracts.Durations.Format(PipelineSettings.Defaults.WindowSize);
    public string Watermark { get; set; } = Contracts.Durations.Format(PipelineSettings.Defaults.WatermarkDelay);
    public string Trigger { get; set; } = Contracts.Durations.Format(PipelineSettings.Defaults.TriggerInterval);
    public int Partitions { get; set; } = PipelineSettings.DefaultPartitions;
    public int Seed { get; set; } = 42;
    public bool Verify { get; set; } = true;
    public string Warmup { get; set; } = Contracts.Durations.Format(AnalyzerOptions.DefaultWarmup);
    /// <summary>Null: no search (a workload file without "search").</summary>
    public SearchSpec? Search { get; set; }

    /// <summary>The default workload, the same as workloads/default.json: what `benchmark` runs without a file.</summary>
    public static Workload Default => new() { Search = new SearchSpec() };

    public static Workload Load(string path)
    {
        Require(File.Exists(path), $"--workload: no such file '{path}'.");
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), WorkloadJson.Default.Workload)
                ?? throw new ConfigurationException($"--workload: '{path}' is empty.");
        }
        catch (JsonException e)
        {
            throw new ConfigurationException($"--workload: '{path}' is not a valid workload file: {e.Message}");
        }
    }

    /// <summary>Throws <see cref="ConfigurationException"/> naming the first bad setting.</summary>
    public Workload Validate()
    {
        Require(Profiles.Length > 0 && Rates.Length > 0 && Durations.Length > 0, "A workload needs at least one profile, rate and duration.");
        foreach (var p in Profiles) TrafficProfiles.Require(p);
        foreach (var r in Rates) Require(r > 0, $"Rates must be positive (got {r}).");
        foreach (var d in Durations) Require(Contracts.Durations.Parse(d, "duration") > TimeSpan.Zero, $"Durations must be positive (got {d}).");
        Search?.Validate();
        return this;
    }
}

/// <summary>
/// The sustainable-throughput search: rates from <see cref="StartRate"/> multiplied by <see cref="Factor"/> until the
/// engine's lag stops being bounded (or <see cref="MaxRate"/>), then <see cref="Bisections"/> halvings of the interval
/// between the last sustained and the first unsustained rate. The rate found is then confirmed by a run of
/// <see cref="ConfirmDuration"/> (at least three steps long): short steps flatter an engine whose backlog grows slowly.
/// </summary>
public sealed record SearchSpec
{
    public string Profile { get; set; } = TrafficProfiles.Poisson;
    public double StartRate { get; set; } = 5_000;
    public double Factor { get; set; } = 2;
    public double MaxRate { get; set; } = 320_000;
    public string Duration { get; set; } = "20s";
    public int Bisections { get; set; } = 3;
    public string ConfirmDuration { get; set; } = "60s";

    public SearchSpec Validate()
    {
        TrafficProfiles.Require(Profile);
        Require(StartRate > 0, $"search start rate must be positive (got {StartRate}).");
        Require(Factor > 1, $"search factor must be above 1 (got {Factor}).");
        Require(MaxRate >= StartRate, $"search max rate ({MaxRate}) must not be below its start rate ({StartRate}).");
        Require(Durations.Parse(Duration, "search duration") > TimeSpan.Zero, "search duration must be positive.");
        Require(Bisections is >= 0 and <= 10, $"search bisections must be between 0 and 10 (got {Bisections}).");
        var step = Durations.Parse(Duration, "search duration");
        Require(Durations.Parse(ConfirmDuration, "search confirm duration") >= 3 * step,
            $"the search's confirmation run must last at least three steps ({Durations.Format(3 * step)}; got {ConfirmDuration}).");
        return this;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(Workload))]
internal sealed partial class WorkloadJson : JsonSerializerContext;
