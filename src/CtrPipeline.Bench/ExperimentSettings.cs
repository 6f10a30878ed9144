using CtrPipeline.Contracts;
using Producer.Worker;

namespace CtrPipeline.Bench;

/// <summary>One headless experiment: which engines, under which load, for how long, on which broker.</summary>
public sealed record ExperimentSettings(
    IReadOnlyList<string> Engines,
    ProducerOptions Producer,
    PipelineSettings Pipeline,
    bool Verify,
    string OutputRoot,
    int Brokers)
{
    public TimeSpan Duration => Producer.Duration ?? throw new ConfigurationException("--duration is required for a headless run.");

    public ExperimentSettings Validate()
    {
        Pipeline.Validate();
        Producer.Validate();
        if (Producer.Duration is not { } d || d <= TimeSpan.Zero)
            throw new ConfigurationException($"--duration must be positive (got {Producer.Duration}).");
        if (Brokers is < 1 or > 16) throw new ConfigurationException($"--brokers must be between 1 and 16 (got {Brokers}).");
        return this;
    }
}
