using CtrPipeline.AppHost;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

// The whole pipeline with the Aspire dashboard. Parameters (see README): mode, engine, profile, rate, window, watermark,
// e.g. `dotnet run --project src/CtrPipeline.AppHost -- --Parameters:rate=50000 --Parameters:engine=native-continuous`.
// Existing clusters instead of containers: --ConnectionStrings:kafka=host:9092, --ConnectionStrings:flink-gateway=http://host:8083,
// --ConnectionStrings:spark-connect=sc://host:15002; an existing PostgreSQL for the sql engine: --ConnectionStrings:ctrdb="Host=...;Database=...".
// A secured cluster: --Parameters:kafka-config=client.properties (librdkafka's names) and the secret --Parameters:kafka-password.
var builder = DistributedApplication.CreateBuilder(args);
PipelineParameters parameters;
PipelineMode mode;
IReadOnlyList<string> engines;
var externalKafka = builder.Configuration.GetConnectionString(PipelineTopology.KafkaConnection) is { Length: > 0 };
var externalClusters = Engines.Clustered
    .Where(engine => builder.Configuration.GetConnectionString(PipelineParameters.ClusterConnection(engine)) is { Length: > 0 })
    .ToHashSet();
try
{
    parameters = PipelineParameters.From(builder.Configuration);
    mode = parameters.Resolve(() => ContainerRuntime.IsHealthy(TimeSpan.FromSeconds(5)));
    engines = parameters.EnginesFor(mode, externalClusters);
    ConfigurationException.Require(externalKafka || (parameters.KafkaClient is null && builder.Configuration[$"{PipelineParameters.Section}:{PipelineParameters.KafkaPasswordParameter}"] is null),
        $"Parameters:kafka-config and Parameters:{PipelineParameters.KafkaPasswordParameter} are for an existing cluster: give it with ConnectionStrings:kafka.");
}
catch (ConfigurationException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
var kafkaText = externalKafka ? $"the cluster at {builder.Configuration.GetConnectionString(PipelineTopology.KafkaConnection)} (ConnectionStrings:kafka" +
        (parameters.KafkaClient is { } client ? $", client properties {client.File}: {client})" : ")")
    : mode == PipelineMode.Containers ? "a Kafka container" : "the embedded broker";
Console.WriteLine($"Mode: {mode}. Kafka: {kafkaText}. Engines: {string.Join(", ", engines)}. Load: " +
    (parameters.ExternalLoad ? "external (no producer, no analyzer: the benchmark sends and measures)." : $"{parameters.Profile} at {parameters.Rate:N0} events/s."));

var kafka = externalKafka ? builder.AddExternalKafka(parameters)
    : mode == PipelineMode.Containers ? builder.AddKafkaContainer(parameters)
    : builder.AddEmbeddedKafka(parameters);
var flink = engines.Contains(Engines.Flink) ? builder.AddFlinkCluster(parameters, kafka.ClientProperties) : null;
var spark = engines.Contains(Engines.Spark) ? builder.AddSparkConnectServer(parameters, kafka.ClientProperties) : null;
var sql = engines.Contains(Engines.Sql) ? builder.AddSqlDatabase(mode, kafka, parameters.TopicPrefix) : null;
if (sql is not null) Console.WriteLine($"The sql engine's database: {sql.Display}.");
builder.AddPipelineWorkers(kafka, parameters, engines, flink, spark, sql);
if (mode == PipelineMode.Containers)
{
    Console.WriteLine("Containers mode: telemetry goes through an OpenTelemetry Collector to the dashboard and to Prometheus, shown in Grafana.");
    builder.RouteTelemetryThrough(builder.AddObservability());
}
await builder.Build().RunAsync();
return 0;
