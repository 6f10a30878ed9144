namespace CtrPipeline.Contracts;

/// <summary>
/// Names of the OpenTelemetry meters and activity sources, so that ServiceDefaults, the workers and the
/// dashboard documentation agree. Instrument names follow the "ctr.&lt;component&gt;.&lt;what&gt;" pattern.
/// </summary>
public static class PipelineTelemetry
{
    /// <summary>Every meter and activity source of the pipeline starts with this; ServiceDefaults subscribes to the wildcard.</summary>
    public const string Prefix = "CtrPipeline.";

    public const string ProducerMeter = "CtrPipeline.Producer";
    public const string EngineMeter = "CtrPipeline.Engine";
    public const string AnalyzerMeter = "CtrPipeline.Analyzer";
    public const string BrokerMeter = "CtrPipeline.Broker";
    public const string FlinkMeter = "CtrPipeline.Flink";
    public const string SparkMeter = "CtrPipeline.Spark";

    public const string ActivitySource = "CtrPipeline";
}
