using System.Globalization;

namespace CtrPipeline.Bench.Faults;

/// <summary>How a second instance of the engine fared: refused (exited) or accepted, and what it said.</summary>
public sealed record SecondInstanceOutcome(bool Exited, int? ExitCode, TimeSpan After, IReadOnlyList<string> ErrorLines, bool FirstInstanceRunning)
{
    /// <summary>Refused as issue 15 asks: exit code 1 within the wait.</summary>
    public bool Refused => Exited && ExitCode == 1;

    public override string ToString() => Exited
        ? string.Create(CultureInfo.InvariantCulture, $"second instance exited with code {ExitCode} after {After.TotalSeconds:0.0} s{(ErrorLines.Count == 0 ? " without an error line" : $": \"{string.Join(" | ", ErrorLines)}\"")}; first instance {(FirstInstanceRunning ? "still running" : "NOT running")}")
        : string.Create(CultureInfo.InvariantCulture, $"second instance NOT refused: still running {After.TotalSeconds:0} s after it started (stopped with SIGKILL at the end); first instance {(FirstInstanceRunning ? "still running" : "NOT running")}");
}

/// <summary>What the engine did with one kind of hostile record: how many were injected, and the reasons of those it dead-lettered.</summary>
public sealed record HostileOutcome(string Kind, bool Counted, int Injected, IReadOnlyList<string> DeadLetterReasons)
{
    public override string ToString() => Counted
        ? $"{Kind}: {Injected} injected, must be counted; {DeadLetterReasons.Count} dead-lettered"
        : $"{Kind}: {Injected} injected, {DeadLetterReasons.Count} dead-lettered{(DeadLetterReasons.Count == 0 ? "" : $" (reason: {DeadLetterReasons[0]})")}";
}

/// <summary>One engine's fault run: the counters of its FAULTS line and what else the run saw.</summary>
public sealed record FaultResult(string Engine, string Scenario, int Kills, FaultCounts Counts, bool ExactlyOnce,
    IReadOnlyList<string> Notes, SecondInstanceOutcome? SecondInstance, IReadOnlyList<HostileOutcome> Hostile)
{
    /// <summary>Every judged window right (and, for an exactly-once engine, no duplicate final row), nothing lost by the broker.</summary>
    public bool Passed => Counts.MissingWindows == 0 && Counts.WrongWindows == 0 && Counts.LostRecords == 0 && (!ExactlyOnce || Counts.DuplicateFinals == 0);

    /// <summary>
    /// The engine processes' cost from the load's start until their results settled: CPU seconds per million delivered
    /// events and peak resident memory (MiB, of the instances alive together); null off Linux.
    /// </summary>
    public double? CpuSecondsPerMillionEvents { get; init; }

    public double? PeakRssMb { get; init; }

    public string Line => string.Create(CultureInfo.InvariantCulture,
        $"FAULTS engine={Engine} scenario={Scenario} kills={Kills} missing_windows={Counts.MissingWindows} wrong_windows={Counts.WrongWindows} duplicate_finals={Counts.DuplicateFinals} dlq={Counts.Dlq} late={Counts.Late} " +
        $"cpu_s_per_million_events={EngineRunReport.Figure(CpuSecondsPerMillionEvents, "0.##")} peak_rss_mb={EngineRunReport.Figure(PeakRssMb, "0.#")}");

    /// <summary>Everything a reader needs to see why a line failed: notes, the dead-letter expectation, the first differences.</summary>
    public IEnumerable<string> Details()
    {
        yield return string.Create(CultureInfo.InvariantCulture,
            $"{Counts.WindowsChecked} windows judged, {Counts.EventsRead:N0} records in the events topic, {Counts.ExpectedDlq} of them invalid by the contract (expected dlq), {Counts.DlqWithoutReason} dlq records without a reason; guarantee {(ExactlyOnce ? "exactly-once" : "at-least-once")}");
        if (SecondInstance is not null) yield return SecondInstance.ToString();
        foreach (var h in Hostile) yield return "hostile " + h;
        foreach (var note in Notes) yield return note;
        foreach (var example in Counts.Examples) yield return example;
    }
}
