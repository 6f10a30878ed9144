namespace CtrPipeline.Contracts;

/// <summary>The engine ids that appear in results, metrics and reports.</summary>
public static class Engines
{
    public const string NativeContinuous = "native-continuous";
    public const string NativeMicroBatch = "native-microbatch";

    public static IReadOnlyList<string> Native { get; } = [NativeContinuous, NativeMicroBatch];

    public static string RequireNative(string engine) =>
        Native.Contains(engine)
            ? engine
            : throw new ConfigurationException($"Unknown engine '{engine}'. This build runs: {string.Join(", ", Native)}.");

    /// <summary>"all", or engine ids separated by commas; each must be known, none twice.</summary>
    public static IReadOnlyList<string> ParseList(string text)
    {
        if (text.Trim() == "all") return Native;
        var engines = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (engines.Length == 0) throw new ConfigurationException($"No engine given. Use 'all' or one of: {string.Join(", ", Native)}.");
        foreach (var engine in engines) RequireNative(engine);
        if (engines.Distinct().Count() != engines.Length) throw new ConfigurationException($"An engine is listed twice in '{text}'.");
        return engines;
    }
}

/// <summary>The arrival processes the producer can draw from.</summary>
public static class TrafficProfiles
{
    public const string Poisson = "poisson";
    public const string Mmpp = "mmpp";

    public static IReadOnlyList<string> All { get; } = [Poisson, Mmpp];

    public static string Require(string profile) =>
        All.Contains(profile)
            ? profile
            : throw new ConfigurationException($"Unknown profile '{profile}'. Use one of: {string.Join(", ", All)}.");
}
