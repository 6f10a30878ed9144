using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Producer.Worker;

var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
try
{
    var options = builder.Configuration.BindSection<ProducerOptions>(ProducerOptions.Section).Validate();
    var pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    var catalog = CampaignCatalog.Load(pipeline.CatalogPath);
    var bootstrap = KafkaClients.BootstrapServers(builder.Configuration);
    builder.Services.AddSingleton(sp => new EventProducer(options, pipeline, catalog, bootstrap, sp.GetRequiredService<ILogger<EventProducer>>()));
    builder.Services.AddHostedService<ProducerService>();
}
catch (ConfigurationException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
await builder.Build().RunAsync();
return 0;

/// <summary>Runs the producer; when its duration is over the process stays up (idle), so it does not look crashed.</summary>
internal sealed class ProducerService(EventProducer producer) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => producer.RunAsync(stoppingToken);
}
