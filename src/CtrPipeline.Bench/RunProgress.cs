using Spectre.Console;

namespace CtrPipeline.Bench;

/// <summary>Where a run reports how it is going.</summary>
public interface IRunProgress
{
    void Producing(string engine, TimeSpan elapsed, TimeSpan duration, long sent, long consumed, long lag, long results);

    void Phase(string engine, string phase);
}

/// <summary>
/// A status line per second on a terminal; on redirected output (CI, files) one plain line every five seconds so
/// logs stay readable.
/// </summary>
public sealed class ConsoleProgress : IRunProgress
{
    private readonly bool _interactive = AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
    private readonly TimeSpan _every;
    private DateTime _last = DateTime.MinValue;

    public ConsoleProgress() => _every = _interactive ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(5);

    public void Producing(string engine, TimeSpan elapsed, TimeSpan duration, long sent, long consumed, long lag, long results)
    {
        if (DateTime.UtcNow - _last < _every) return;
        _last = DateTime.UtcNow;
        var pct = Math.Min(100, 100 * elapsed.TotalSeconds / duration.TotalSeconds);
        var rate = elapsed.TotalSeconds > 0 ? sent / elapsed.TotalSeconds : 0;
        var line = $"[{engine}] {pct,5:0.0}% {elapsed.TotalSeconds,5:0}/{duration.TotalSeconds:0}s  sent {sent,10:N0} ({rate,9:N0}/s)  consumed {consumed,10:N0}  lag {lag,9:N0}  results {results,7:N0}";
        if (_interactive) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]");
        else Console.WriteLine(line);
    }

    public void Phase(string engine, string phase)
    {
        if (_interactive) AnsiConsole.MarkupLine($"[blue]{Markup.Escape($"[{engine}] {phase}")}[/]");
        else Console.WriteLine($"[{engine}] {phase}");
    }
}
