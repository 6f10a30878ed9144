using CtrPipeline.Contracts;
using CtrPipeline.Producer;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Bench.Load;

/// <summary>
/// A run's open-loop load, wherever it is made: in the benchmark's process (<see cref="InProcessLoad"/>) or by
/// producer processes of their own (<see cref="LoadProducers"/>).
/// </summary>
public interface ILoad : IAsyncDisposable
{
    /// <summary>Sends the whole load, or follows processes already sending it; completes once every record is acknowledged or failed.</summary>
    Task RunAsync(CancellationToken cancel);

    /// <summary>The load's counters so far (of all its producers).</summary>
    ProducerProgress Progress { get; }

    /// <summary>The processes that make the load, for CPU sampling; empty when it is made in this process.</summary>
    IReadOnlyList<int> ProcessIds { get; }

    /// <summary>
    /// The load of one run with <paramref name="options"/> on the run's topics: made in this process when the settings
    /// say 0 producers, else by that many producer processes (their logs in <paramref name="workFolder"/>), returned
    /// once they all send: the load starts then. With external producers, it writes their environments there, says so on
    /// the console, and waits for them.
    /// </summary>
    static async Task<ILoad> StartAsync(ExperimentSettings settings, ProducerOptions options, RunTopics kafka, CampaignCatalog catalog,
        ILoggerFactory logs, string workFolder, string runId, CancellationToken cancel)
    {
        var catalogPath = Path.GetFullPath(string.IsNullOrWhiteSpace(settings.Pipeline.CatalogPath) ? CampaignCatalog.DefaultPath : settings.Pipeline.CatalogPath);
        var filePrefix = Path.Combine(workFolder, $"{runId}-");
        if (settings.ExternalProducers > 0)
            return await LoadProducers.AwaitExternalAsync(settings.ExternalProducers, options, kafka, catalogPath, filePrefix, LoadProducers.ExternalStartWithin, Console.WriteLine, cancel);
        if (settings.ProducerProcesses == 0)
            return new InProcessLoad(new EventProducer(options, kafka.Pipeline, catalog, kafka.Kafka, logs.CreateLogger<EventProducer>()));
        return await LoadProducers.StartAsync(settings.ProducerProcesses, options, kafka, catalogPath, filePrefix, cancel);
    }
}
