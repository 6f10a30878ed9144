using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using NativeEngine.Worker;

var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
try
{
    var options = builder.Configuration.BindSection<EngineOptions>(EngineOptions.Section).Validate();
    var pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    var catalog = CampaignCatalog.Load(pipeline.CatalogPath);
    var bootstrap = KafkaClients.BootstrapServers(builder.Configuration);
    builder.Services.AddSingleton(sp => new NativeEngineRunner(options, pipeline, catalog, bootstrap, sp.GetRequiredService<ILogger<NativeEngineRunner>>()));
    builder.Services.AddHostedService<EngineService>();
}
catch (ConfigurationException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
await builder.Build().RunAsync();
return 0;

/// <summary>Hosts the engine's consume loop for the lifetime of the process.</summary>
internal sealed class EngineService(NativeEngineRunner runner) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => runner.RunAsync(stoppingToken);
}
