namespace CtrPipeline.Kafka.Tests;

/// <summary>A fact that is skipped, with the reason shown, when a tool it drives is not installed.</summary>
public sealed class RequiresExecutableFactAttribute : FactAttribute
{
    public RequiresExecutableFactAttribute(string executable, string installHint)
    {
        if (!IsOnPath(executable)) Skip = $"{executable} is not installed on this machine ({installHint}).";
    }

    public static bool IsOnPath(string executable) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, executable)));
}
