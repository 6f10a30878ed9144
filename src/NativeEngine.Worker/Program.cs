using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using NativeEngine.Worker;

var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
try
{
    var options = Bind<EngineOptions>(builder.Configuration, EngineOptions.Section).Validate();
    var pipeline = Bind<PipelineSettings>(builder.Configuration, PipelineSettings.Section).Validate();
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

// A value the binder cannot convert (e.g. Engine__CommitInterval=soon) is a configuration error like any other.
static T Bind<T>(IConfiguration configuration, string section) where T : new()
{
    try
    {
        return configuration.GetSection(section).Get<T>() ?? new T();
    }
    catch (InvalidOperationException e)
    {
        throw new ConfigurationException(e.Message);
    }
}

/// <summary>Hosts the engine's consume loop for the lifetime of the process.</summary>
internal sealed class EngineService(NativeEngineRunner runner) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => runner.RunAsync(stoppingToken);
}
