using CtrPipeline.Contracts;
using static CtrPipeline.Contracts.ConfigurationException;

namespace CtrPipeline.Bench.Faults;

/// <summary>The faults a run can suffer; a run has one or more (the command runs one per line, the tests combine some).</summary>
public enum FaultScenario
{
    /// <summary>SIGKILL of the engine at <see cref="FaultSettings.KillAt"/>, restarted <see cref="FaultSettings.RestartAfter"/> later.</summary>
    Kill,

    /// <summary>Every broker down for <see cref="FaultSettings.OutageLength"/>, then up, then a forced rebalance of the engine's group.</summary>
    BrokerOutage,

    /// <summary>A second instance of the engine started in the same consumer group.</summary>
    SecondInstance,

    /// <summary>Hostile records in every partition of the events topic (see <see cref="HostileRecords"/>).</summary>
    Hostile,

    /// <summary>
    /// The engine starts <see cref="FaultSettings.BacklogFor"/> after the load, on a backlog of that much load (on 16
    /// partitions at 20,000 events/s for 50 s, the million events the embedded broker keeps at 5 MiB per partition).
    /// </summary>
    Backlog,
}

public static class FaultScenarios
{
    public static IReadOnlyList<FaultScenario> All { get; } = Enum.GetValues<FaultScenario>();

    public static string Name(FaultScenario s) => s switch
    {
        FaultScenario.Kill => "kill",
        FaultScenario.BrokerOutage => "broker-outage",
        FaultScenario.SecondInstance => "second-instance",
        FaultScenario.Hostile => "hostile",
        FaultScenario.Backlog => "backlog",
        _ => throw new ArgumentOutOfRangeException(nameof(s), s, null),
    };

    public static string Name(IEnumerable<FaultScenario> scenarios) => string.Join('+', scenarios.Select(Name));

    /// <summary>"all", or scenario names separated by commas.</summary>
    public static IReadOnlyList<FaultScenario> Parse(string text)
    {
        if (text.Trim() == "all") return All;
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Require(names.Length > 0, $"--scenario: none given. Use 'all' or some of: {string.Join(", ", All.Select(Name))}.");
        return names.Select(n => All.Cast<FaultScenario?>().FirstOrDefault(s => Name(s!.Value) == n)
            ?? throw new ConfigurationException($"--scenario: unknown scenario '{n}'. Known: {string.Join(", ", All.Select(Name))}.")).Distinct().ToList();
    }
}

/// <summary>
/// One fault run's load and timing. Times are measured from the start of the load. The producer sends no malformed
/// records of its own, so every record in the dead-letter topic comes from a fault (a hostile record).
/// </summary>
public sealed record FaultSettings
{
    public const string ExactlyOnce = "exactly-once";
    public const string AtLeastOnce = "at-least-once";

    /// <summary>What the native engines guarantee when Engine:Guarantee is not given (their default, exactly-once).</summary>
    public const string NativeDefaultGuarantee = ExactlyOnce;

    public required PipelineSettings Pipeline { get; init; }
    public double Rate { get; init; } = 20_000;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);
    public int Seed { get; init; } = 42;
    public int Brokers { get; init; } = 1;
    public TimeSpan KillAt { get; init; } = TimeSpan.FromSeconds(25);
    public TimeSpan RestartAfter { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan OutageAt { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan OutageLength { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long the rebalance probe stays in the engine's group once it has joined.</summary>
    public TimeSpan ProbeHold { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan SecondInstanceAt { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>How long a second instance may take to refuse (exit) before it counts as accepted.</summary>
    public TimeSpan SecondInstanceWait { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan HostileAt { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>backlog: how long the load runs before the engine starts (400,000 events at 20,000 events/s: what 8 partitions keep).</summary>
    public TimeSpan BacklogFor { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>Results unchanged this long after the trailer: the engine has settled.</summary>
    public TimeSpan SettleTime { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Longest wait for the results to settle once the load is over.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromMinutes(3);
    /// <summary>Guarantee handed to the native engines as Engine__Guarantee; null: the engine's default.</summary>
    public string? Guarantee { get; init; }

    public FaultSettings Validate(IReadOnlyCollection<FaultScenario> scenarios)
    {
        Pipeline.Validate();
        Require(Rate > 0, $"--rate must be positive (got {Rate}).");
        Require(Duration > TimeSpan.Zero, $"--duration must be positive (got {Durations.Format(Duration)}).");
        Require(Brokers is >= 1 and <= 16, $"--brokers must be between 1 and 16 (got {Brokers}).");
        Require(Guarantee is null or ExactlyOnce or AtLeastOnce, $"--guarantee must be {ExactlyOnce} or {AtLeastOnce} (got '{Guarantee}').");
        if (scenarios.Contains(FaultScenario.Kill))
        {
            Require(KillAt > TimeSpan.Zero && KillAt < Duration, $"--kill-engine-at ({Durations.Format(KillAt)}) must fall inside the run (--duration {Durations.Format(Duration)}).");
            Require(RestartAfter >= TimeSpan.Zero, $"--restart-after must not be negative (got {Durations.Format(RestartAfter)}).");
        }
        if (scenarios.Contains(FaultScenario.BrokerOutage))
        {
            Require(OutageAt > TimeSpan.Zero && OutageAt < Duration, $"--outage-at ({Durations.Format(OutageAt)}) must fall inside the run (--duration {Durations.Format(Duration)}).");
            Require(OutageLength > TimeSpan.Zero, $"--outage must be positive (got {Durations.Format(OutageLength)}).");
        }
        if (scenarios.Contains(FaultScenario.SecondInstance))
            Require(SecondInstanceAt > TimeSpan.Zero && SecondInstanceAt < Duration, $"--second-instance-at ({Durations.Format(SecondInstanceAt)}) must fall inside the run (--duration {Durations.Format(Duration)}).");
        if (scenarios.Contains(FaultScenario.Hostile))
            Require(HostileAt >= TimeSpan.Zero && HostileAt < Duration, $"--hostile-at ({Durations.Format(HostileAt)}) must fall inside the run (--duration {Durations.Format(Duration)}).");
        if (scenarios.Contains(FaultScenario.Backlog))
        {
            Require(BacklogFor > TimeSpan.Zero && BacklogFor < Duration, $"--backlog-for ({Durations.Format(BacklogFor)}) must fall inside the run (--duration {Durations.Format(Duration)}).");
            // The faults that act on the running engine need one.
            foreach (var (scenario, at) in new[] { (FaultScenario.Kill, KillAt), (FaultScenario.BrokerOutage, OutageAt), (FaultScenario.SecondInstance, SecondInstanceAt) })
                Require(!scenarios.Contains(scenario) || at > BacklogFor,
                    $"{FaultScenarios.Name(scenario)} at {Durations.Format(at)} comes before the engine starts (--backlog-for {Durations.Format(BacklogFor)}).");
        }
        return this;
    }
}
