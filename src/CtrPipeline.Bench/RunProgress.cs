using System.Globalization;
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

/// <summary>A benchmark on redirected output: the run lines of <see cref="ConsoleProgress"/> and one line per finished run.</summary>
public sealed class PlainBenchmarkProgress : IBenchmarkProgress
{
    private readonly ConsoleProgress _lines = new();
    private int _planned, _done;

    public void Planned(int runs) => _planned = runs;

    public void RunStarted(string runId) => Console.WriteLine($"run {_done + 1} of ~{Math.Max(_planned, _done + 1)}: {runId}");

    public void RunFinished(Reporting.RunData run, string kind)
    {
        _done++;
        Console.WriteLine($"{kind}: {run.Report.ResultLine()}");
    }

    public void Producing(string engine, TimeSpan elapsed, TimeSpan duration, long sent, long consumed, long lag, long results) =>
        _lines.Producing(engine, elapsed, duration, sent, consumed, lag, results);

    public void Phase(string engine, string phase) => _lines.Phase(engine, phase);
}

/// <summary>
/// A benchmark on a terminal (Spectre.Console live display): a bar for the whole benchmark, a bar for the current run
/// with its counters, and a table of the finished runs that grows as they end.
/// </summary>
public sealed class LiveBenchmarkProgress(string workload) : IBenchmarkProgress
{
    private readonly Lock _gate = new();
    private readonly Table _finished = new Table().RoundedBorder()
        .AddColumns("kind", "engine", "profile", "rate/s", "achieved/s", "L1 p50 ms", "L1 p99 ms", "L2 p99 ms", "late", "bad", "sustained", "oracle");
    private Action? _refresh;
    private int _planned, _done;
    private string _current = "starting", _phase = "", _counters = "";
    private double _fraction;

    public static bool Supported => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    public async Task<T> ShowAsync<T>(Func<Task<T>> work)
    {
        T result = default!;
        await AnsiConsole.Live(Render()).AutoClear(false).StartAsync(async context =>
        {
            _refresh = () =>
            {
                context.UpdateTarget(Render());
                context.Refresh();
            };
            result = await work();
            _refresh();
        });
        return result;
    }

    public void Planned(int runs) => Update(() => _planned = runs);

    public void RunStarted(string runId) => Update(() => (_current, _phase, _counters, _fraction) = (runId, "", "", 0));

    public void RunFinished(Reporting.RunData run, string kind) => Update(() =>
    {
        _done++;
        var r = run.Report;
        _finished.AddRow(kind, r.Engine, r.Profile, Number(r.Rate), Number(r.AchievedRate), Ms(r.L1.P50), Ms(r.L1.P99), Ms(r.L2.P99),
            Number(r.Late), Number(r.Bad), r.Sustained ? "[green]yes[/]" : "[red]no[/]",
            r.Oracle.Verdict switch { OracleVerdict.Match => "[green]match[/]", OracleVerdict.Mismatch => "[red]mismatch[/]", _ => "[grey]skipped[/]" });
    });

    public void Producing(string engine, TimeSpan elapsed, TimeSpan duration, long sent, long consumed, long lag, long results) => Update(() =>
    {
        _fraction = Math.Clamp(elapsed / duration, 0, 1);
        _phase = "producing";
        _counters = string.Create(CultureInfo.InvariantCulture, $"sent {sent:N0}  consumed {consumed:N0}  lag {lag:N0}  results {results:N0}");
    });

    public void Phase(string engine, string phase) => Update(() => _phase = phase);

    private void Update(Action change)
    {
        lock (_gate)
        {
            change();
            _refresh?.Invoke();
        }
    }

    private Rows Render()
    {
        var total = Math.Max(1, Math.Max(_planned, _done)); // the search's step count is an estimate
        return new Rows(
            new Markup($"[bold]benchmark {Markup.Escape(workload)}[/]  {Bar((double)_done / total)} {_done} of ~{total} runs"),
            new Markup($"[blue]{Markup.Escape(_current)}[/]  {Bar(_fraction)} {Markup.Escape(_phase)}"),
            new Markup($"[grey]{Markup.Escape(_counters)}[/]"),
            _finished);
    }

    private static string Bar(double fraction, int width = 40)
    {
        var filled = (int)Math.Round(Math.Clamp(fraction, 0, 1) * width);
        return $"[green]{new string('━', filled)}[/][grey]{new string('━', width - filled)}[/] {fraction,4:P0}";
    }

    private static string Number(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Ms(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);
}
