using CtrPipeline.Bench.Measurement;
using CtrPipeline.Contracts;
using CtrPipeline.Streaming;

namespace CtrPipeline.Bench.Hosts;

/// <summary>Where the engines run during an experiment (--host).</summary>
public enum EngineHost
{
    /// <summary>In the benchmark's own process, through the engine's runner: the fastest turnaround.</summary>
    InProcess,

    /// <summary>As services of the AppHost's app model, each in its own process (or cluster), seen through Kafka only.</summary>
    Services,
}

public static class EngineHosts
{
    public static string Name(EngineHost host) => host == EngineHost.InProcess ? "inprocess" : "services";

    public static EngineHost Parse(string text) => text.Trim() switch
    {
        "inprocess" => EngineHost.InProcess,
        "services" => EngineHost.Services,
        _ => throw new ConfigurationException($"--host must be inprocess (the engines in this process) or services (each engine its own process, as the AppHost runs it; got '{text}')."),
    };

    /// <summary>Starts <paramref name="target"/> where <paramref name="settings"/> say, with its Kafka topics; the session is the experiment's view of it.</summary>
    public static async Task<IEngineSession> StartAsync(ExperimentSettings settings, EngineTarget target, RunContext context, CancellationToken cancel) =>
        settings.Host == EngineHost.InProcess
            ? await InProcessSession.StartAsync(settings, target, context, cancel)
            : await ServicesSession.StartAsync(settings, target, context, cancel);
}

/// <summary>What every session needs besides the settings: the catalog, logging, the run's id and folder, progress.</summary>
public sealed record RunContext(CampaignCatalog Catalog, Microsoft.Extensions.Logging.ILoggerFactory Logs, string RunId, string WorkFolder, IRunProgress Progress);

/// <summary>
/// One engine under test for one experiment, however it is hosted: its Kafka, whether it runs, when it holds its
/// partitions, its counters, and how its input ends. The experiment measures everything else through Kafka itself.
/// Disposing it stops the engine and removes the run's topics.
/// </summary>
public interface IEngineSession : IAsyncDisposable
{
    RunTopics Kafka { get; }

    /// <summary>Faults when the engine fails; never completes successfully while it runs.</summary>
    Task Processing { get; }

    /// <summary>Completes once the engine holds its partitions (its job or query runs).</summary>
    Task Ready { get; }

    /// <summary>
    /// The engine's counters. In process: its own. As a service: what Kafka shows, the offsets its group committed
    /// (null where the engine commits none) and the rows, late and dead-lettered records it published.
    /// </summary>
    EngineProgress Progress { get; }

    /// <summary>False where the engine's consumption cannot be seen (it commits no offsets): lag is then unknown.</summary>
    bool KnowsConsumed { get; }

    /// <summary>
    /// End of input, after the load ran from <paramref name="loadStartMs"/> to <paramref name="loadEndMs"/>: every
    /// window the load touched becomes final, within <paramref name="timeout"/>.
    /// </summary>
    Task<EndOfInputResult> EndInputAsync(long loadStartMs, long loadEndMs, TimeSpan timeout, CancellationToken cancel);

    /// <summary>The database the SQL engine wrote to (product and version), where known.</summary>
    string? Database { get; }

    /// <summary>
    /// The engine's own processes (or containers), whose CPU and memory the run reports; null where they cannot be told
    /// apart: in process, the engine's threads are the benchmark's.
    /// </summary>
    IProcessCost? Cost { get; }
}

/// <summary>Whether every window the load touched became final in time, and which windows the oracle judges (null: all).</summary>
public sealed record EndOfInputResult(bool Complete, (long From, long Until)? Windows);
