using CtrPipeline.Analyzer;
using CtrPipeline.Contracts;
using CtrPipeline.Producer;

namespace CtrPipeline.Bench;

/// <summary>
/// One headless experiment: under which load, for how long, on which Kafka, verified or not. An engine that is still
/// behind <see cref="CatchUpTimeout"/> after the load ends did not sustain the rate; with <see cref="GiveUpWhenUnbounded"/>
/// (the throughput search) an engine whose backlog was still growing when the load ended is judged at once.
/// </summary>
public sealed record ExperimentSettings(ProducerOptions Producer, PipelineSettings Pipeline, bool Verify, int Brokers)
{
    public TimeSpan CatchUpTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Where each run's topics go: a fresh embedded cluster (the default) or fresh topics on a Kafka cluster (--kafka).</summary>
    public RunKafka Kafka { get; init; } = RunKafka.Embedded(Brokers);

    public bool GiveUpWhenUnbounded { get; init; }

    /// <summary>Where the engines run (--host).</summary>
    public Hosts.EngineHost Host { get; init; } = Hosts.EngineHost.InProcess;

    /// <summary>With the services host: the AppHost's mode (auto, embedded or containers), as Parameters:mode.</summary>
    public string Mode { get; init; } = "auto";

    /// <summary>With the services host: existing clusters for the AppHost (flink-gateway, flink-rest, spark-connect), as ConnectionStrings:name.</summary>
    public IReadOnlyDictionary<string, string> ServiceConnections { get; init; } = new Dictionary<string, string>();

    /// <summary>How the oracle reads the run's events (--oracle-read): after the load where the cluster keeps the run, else live.</summary>
    public Verification.EventsRead OracleRead { get; init; } = Verification.EventsRead.Auto;

    /// <summary>The start of the load whose rows the percentiles leave out (at least its first window); see Analyzer:Warmup.</summary>
    public TimeSpan Warmup { get; init; } = AnalyzerOptions.DefaultWarmup;

    /// <summary>
    /// Producer processes that make the load (--producers): 0 makes it in the benchmark's process; unset, one per
    /// <see cref="Load.LoadProducers.RatePerProcess"/> events/s of the run's rate.
    /// </summary>
    public int? Producers { get; init; }

    /// <summary>
    /// Producers the benchmark does not start but waits for (--producers-external): on other machines, or started by
    /// hand, each with the environment the benchmark writes for it (<see cref="Load.LoadProducers.AwaitExternalAsync"/>); 0: none.
    /// </summary>
    public int ExternalProducers { get; init; }

    /// <summary>The producer processes of this run's rate (<see cref="Producers"/>).</summary>
    public int ProducerProcesses => Producers ?? Load.LoadProducers.For(Producer.Rate);

    public TimeSpan Duration => Producer.Duration ?? throw new ConfigurationException("--duration is required for a headless run.");

    public ExperimentSettings Validate()
    {
        Pipeline.Validate();
        Producer.Validate();
        if (Producer.Duration is not { } d || d <= TimeSpan.Zero)
            throw new ConfigurationException($"--duration must be positive (got {Producer.Duration}).");
        if (Warmup < TimeSpan.Zero) throw new ConfigurationException($"--warmup must not be negative (got {Durations.Format(Warmup)}).");
        if (Warmup >= Duration) throw new ConfigurationException($"--warmup ({Durations.Format(Warmup)}) must be shorter than the run ({Durations.Format(Duration)}): nothing would be measured.");
        if (Producers is < 0 or > Load.LoadProducers.MaxProcesses)
            throw new ConfigurationException($"--producers must be between 0 (the load in this process) and {Load.LoadProducers.MaxProcesses} (got {Producers}).");
        if (ExternalProducers is < 0 or > Load.LoadProducers.MaxProcesses)
            throw new ConfigurationException($"--producers-external must be between 1 and {Load.LoadProducers.MaxProcesses} (got {ExternalProducers}).");
        if (ExternalProducers > 0 && Producers is not null)
            throw new ConfigurationException("--producers and --producers-external do not go together: the load is made either by the benchmark's producers or by external ones.");
        if (Brokers is < 1 or > 16) throw new ConfigurationException($"--brokers must be between 1 and 16 (got {Brokers}).");
        if (Producer.SkewedPartitions >= Pipeline.Partitions)
            throw new ConfigurationException($"--skewed-partitions ({Producer.SkewedPartitions}) must leave some of the {Pipeline.Partitions} partitions (--partitions) unskewed.");
        return this;
    }

    /// <summary>The same experiment with another profile, rate and duration (the producer's other settings kept).</summary>
    public ExperimentSettings With(string profile, double rate, TimeSpan duration) => this with { Producer = Producer.With(profile, rate, duration) };
}
