namespace CtrPipeline.Testing;

/// <summary>A fact that is skipped, with the reason shown, when a tool it drives is not installed.</summary>
public sealed class RequiresExecutableFactAttribute : FactAttribute
{
    public RequiresExecutableFactAttribute(string executable, string installHint)
    {
        if (!IsOnPath(executable)) Skip = $"{executable} is not installed on this machine ({installHint}).";
    }

    public static bool IsOnPath(string executable) => FindOnPath(executable) is not null;

    /// <summary>The executable's full path from PATH, or null.</summary>
    public static string? FindOnPath(string executable) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, executable))
            .FirstOrDefault(File.Exists);
}
