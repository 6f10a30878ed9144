using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

// One-shot set-up of a real Kafka cluster (the container of containers mode, or an existing cluster): creates the
// pipeline topics that are missing (LogAppendTime, Pipeline:Partitions partitions) and exits 0. The AppHost's workers
// wait for it to complete. It retries while the broker is starting, for KafkaSetup:Timeout (3 minutes by default).
var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
PipelineSettings pipeline;
KafkaConnection kafka;
TimeSpan timeout;
try
{
    pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    kafka = KafkaClients.Validated(builder.Configuration.KafkaConnection());
    timeout = builder.Configuration.GetValue("KafkaSetup:Timeout", TimeSpan.FromMinutes(3));
    if (timeout <= TimeSpan.Zero) throw new ConfigurationException($"KafkaSetup:Timeout must be positive (got {timeout}).");
}
catch (Exception e) when (e is ConfigurationException or InvalidOperationException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

using var host = builder.Build();
await host.StartAsync(); // telemetry export, so these log lines reach the dashboard
var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("KafkaSetup");
var exitCode = 0;
try
{
    await logger.UntilAvailableAsync($"Kafka at {kafka}", _ => TopicProvisioner.EnsureAsync(kafka, pipeline, logger),
        e => e is KafkaException, timeout, CancellationToken.None, retryDelay: TimeSpan.FromSeconds(2));
    logger.LogInformation("Kafka at {Bootstrap} is ready for the pipeline", kafka);
}
catch (KafkaRefusedException e)
{
    logger.LogError("{Reason}", e.Message);
    exitCode = 2;
}
catch (KafkaException e)
{
    logger.LogError("Kafka at {Bootstrap} did not become ready within {Timeout}: {Reason}", kafka, timeout, e.Message);
    exitCode = 1;
}
await host.StopAsync();
return exitCode;
