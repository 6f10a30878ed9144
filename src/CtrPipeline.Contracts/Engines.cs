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
}
