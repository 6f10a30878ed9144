using System.Diagnostics;
using CtrPipeline.Contracts;

namespace CtrPipeline.Bench.Faults;

/// <summary>
/// A project of this repository run as its own process, the way the AppHost runs it: `dotnet exec` of the project's
/// own build output (src/&lt;project&gt;/bin/&lt;configuration&gt;/&lt;tfm&gt;), configured only through environment
/// variables. Its output goes to a log file, each line with the time it arrived (the run folder keeps it for
/// diagnosis); <see cref="Kill"/> is SIGKILL.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _gate = new();
    private readonly List<string> _errorLines = [];
    private readonly List<string> _lines = [];
    private bool _disposed;

    private ChildProcess(Process process, StreamWriter log)
    {
        _process = process;
        _log = log;
    }

    public string Name { get; private init; } = "";

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>Lines the process wrote to standard error, and any line of standard output that starts with "error" or "fail".</summary>
    public IReadOnlyList<string> ErrorLines
    {
        get { lock (_gate) return [.. _errorLines]; }
    }

    /// <summary>
    /// Starts src/<paramref name="project"/> with <paramref name="environment"/> (and <paramref name="arguments"/>); output
    /// is appended to <paramref name="logFile"/>. With <paramref name="keepInputOpen"/> its standard input stays open
    /// until <see cref="CloseInput"/>: a signal the process can wait for, which also comes when this process ends.
    /// </summary>
    public static ChildProcess Start(string name, string project, IReadOnlyDictionary<string, string> environment, string logFile,
        IEnumerable<string>? arguments = null, bool keepInputOpen = false)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = keepInputOpen,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Executable(project));
        foreach (var argument in arguments ?? []) start.ArgumentList.Add(argument);
        // The worker must not inherit settings meant for this process (an OTLP endpoint, a development environment).
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("OTEL_", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("DOTNET_ENVIRONMENT", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(key);
        start.Environment["Logging__Console__FormatterName"] = "simple";
        start.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        foreach (var (key, value) in environment) start.Environment[key] = value;

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logFile))!);
        var log = new StreamWriter(logFile, append: true) { AutoFlush = true };
        log.WriteLine($"--- {DateTime.UtcNow:O} start {name}: {project}");
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var child = new ChildProcess(process, log) { Name = name };
        process.OutputDataReceived += (_, e) => child.Line(e.Data, error: false);
        process.ErrorDataReceived += (_, e) => child.Line(e.Data, error: true);
        if (!process.Start()) throw new WorkerFailedException($"could not start {project}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void Line(string? line, bool error)
    {
        if (line is null) return;
        lock (_gate)
        {
            if (_disposed) return;
            _log.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
            if (_lines.Count < 10_000) _lines.Add(line);
            if (error || line.StartsWith("error", StringComparison.OrdinalIgnoreCase) || line.StartsWith("fail", StringComparison.OrdinalIgnoreCase) || line.StartsWith("crit", StringComparison.OrdinalIgnoreCase))
                _errorLines.Add(line);
        }
    }

    /// <summary>True when the process wrote a line containing <paramref name="fragment"/>.</summary>
    public bool Saw(string fragment)
    {
        lock (_gate) return _lines.Any(l => l.Contains(fragment, StringComparison.Ordinal));
    }

    /// <summary>Closes the process's standard input (started with keepInputOpen).</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>SIGKILL: the process gets no chance to flush, commit or leave its consumer group.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: false); // SIGKILL on Unix
        _process.WaitForExit(10_000);
        lock (_gate)
            if (!_disposed) _log.WriteLine($"--- {DateTime.UtcNow:O} SIGKILL {Name}");
    }

    /// <summary>True when the process ended within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>The built entry assembly of src/<paramref name="project"/> for this process's configuration and target framework.</summary>
    public static string Executable(string project)
    {
        // This process runs from .../bin/<configuration>/<tfm>/ of a project two levels below the repository root.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = output.Parent?.Name ?? "Debug";
        var root = output;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "CtrPipeline.sln"))) root = root.Parent;
        if (root is null)
            throw new ConfigurationException($"The faults command starts src/{project} from the repository's build output; run it from a clone of the repository (dotnet run --project src/CtrPipeline.Bench).");
        var assembly = Path.Combine(root.FullName, "src", project, "bin", configuration, output.Name, project + ".dll");
        if (!File.Exists(assembly))
            throw new ConfigurationException($"{assembly} is missing: build it first (dotnet build -c {configuration} src/{project}).");
        return assembly;
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        lock (_gate)
        {
            _disposed = true;
            _log.Dispose();
        }
    }
}
