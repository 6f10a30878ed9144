using CtrPipeline.Contracts;

namespace CtrPipeline.Bench.Verification;

/// <summary>How the oracle reads a run's events (--oracle-read).</summary>
public enum EventsRead
{
    /// <summary>After the load where the cluster keeps the whole run (its retention says so), else live.</summary>
    Auto,

    /// <summary>While the run happens, in a process of its own (<see cref="LiveEventsTap"/>).</summary>
    Live,

    /// <summary>Once, after the load, before the run's topics are deleted (<see cref="AfterLoadEventsRead"/>).</summary>
    AfterLoad,
}

public static class EventsReads
{
    public static string Name(EventsRead read) => read switch
    {
        EventsRead.Live => "live",
        EventsRead.AfterLoad => "after-load",
        _ => "auto",
    };

    public static EventsRead Parse(string text) => text.Trim() switch
    {
        "auto" => EventsRead.Auto,
        "live" => EventsRead.Live,
        "after-load" => EventsRead.AfterLoad,
        _ => throw new ConfigurationException(
            $"--oracle-read must be auto (after the load where the cluster keeps the run, else live), live (a tap in its own process while the run happens) or after-load (got '{text}')."),
    };
}
