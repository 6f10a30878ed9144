using System.Diagnostics;

namespace CtrPipeline.Testing;

/// <summary>A worker run as its own process, as the AppHost runs it: configuration from the environment.</summary>
internal static class WorkerProcess
{
    /// <summary>
    /// `dotnet exec` of the worker from its own build output (src/&lt;project&gt;/bin/&lt;configuration&gt;/&lt;tfm&gt;): a test project
    /// that also references ASP.NET Core would resolve the worker's hosting assemblies from that framework instead.
    /// </summary>
    public static ProcessStartInfo StartInfo(string project, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = testOutput.Parent!.Name;
        var assembly = Path.GetFullPath(Path.Combine(testOutput.FullName, "..", "..", "..", "..", "..", "src", project, "bin", configuration, testOutput.Name, project + ".dll"));
        if (!File.Exists(assembly)) throw new FileNotFoundException($"Build src/{project} first (dotnet test builds it).", assembly);

        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var argument in new[] { "exec", assembly }.Concat(arguments)) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment) start.Environment[key] = value;
        return start;
    }

    /// <summary>Runs to exit (killed after <paramref name="limit"/>); returns the exit code and both outputs.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(ProcessStartInfo start, TimeSpan limit)
    {
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(limit);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>How a worker ends on a bad setting: exit code 2, nothing on stdout, one "error:" line naming the setting.</summary>
    public static void AssertConfigurationError((int ExitCode, string Stdout, string Stderr) result, string expected)
    {
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
        Assert.Empty(result.Stdout);
    }
}
