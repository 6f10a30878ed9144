namespace CtrPipeline.Bench.Measurement;

/// <summary>A cost counter could not be read (a container runtime that did not answer): the figure is reported as none.</summary>
public sealed class CostUnavailableException(string message) : Exception(message);
