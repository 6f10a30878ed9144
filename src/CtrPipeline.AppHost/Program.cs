using CtrPipeline.AppHost;
using CtrPipeline.Contracts;

// The whole pipeline with the Aspire dashboard. Parameters (see README): mode, engine, profile, rate, window, watermark,
// e.g. `dotnet run --project src/CtrPipeline.AppHost -- --Parameters:rate=50000 --Parameters:engine=native-continuous`.
var builder = DistributedApplication.CreateBuilder(args);
PipelineParameters parameters;
try
{
    parameters = PipelineParameters.From(builder.Configuration);
}
catch (ConfigurationException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

var mode = parameters.Resolve(() => ContainerRuntime.IsHealthy(TimeSpan.FromSeconds(5)));
Console.WriteLine($"Mode: {mode}. Engines: {string.Join(", ", parameters.Engines)}. Load: {parameters.Profile} at {parameters.Rate:N0} events/s.");

var kafka = builder.AddEmbeddedKafka(parameters);
builder.AddPipelineWorkers(kafka, parameters);
if (mode == PipelineMode.Containers)
{
    Console.WriteLine("Containers mode: telemetry goes through an OpenTelemetry Collector to the dashboard and to Prometheus, shown in Grafana. "
        + "Apache Kafka, Flink and Spark containers are not part of this build yet: the broker is the embedded one.");
    builder.RouteTelemetryThrough(builder.AddObservability());
}
await builder.Build().RunAsync();
return 0;
