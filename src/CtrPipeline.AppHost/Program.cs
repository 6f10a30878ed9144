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
if (mode == PipelineMode.Containers)
{
    // Real Kafka, Flink and Spark containers are not part of this build yet.
    if (parameters.Mode == PipelineMode.Containers)
    {
        Console.Error.WriteLine("error: containers mode (Apache Kafka, Flink, Spark in containers) is not part of this build yet; use --Parameters:mode=embedded.");
        return 2;
    }
    Console.WriteLine($"A healthy container runtime ({ContainerRuntime.Name}) was found, but containers mode is not part of this build yet: running in embedded mode.");
    mode = PipelineMode.Embedded;
}
Console.WriteLine($"Mode: {mode}. Engines: {string.Join(", ", parameters.Engines)}. Load: {parameters.Profile} at {parameters.Rate:N0} events/s.");

var kafka = builder.AddEmbeddedKafka(parameters);
builder.AddPipelineWorkers(kafka, parameters);
await builder.Build().RunAsync();
return 0;
