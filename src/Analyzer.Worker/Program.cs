using Analyzer.Worker;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
try
{
    var options = Bind<AnalyzerOptions>(builder.Configuration, AnalyzerOptions.Section).Validate();
    var pipeline = Bind<PipelineSettings>(builder.Configuration, PipelineSettings.Section).Validate();
    var bootstrap = KafkaClients.BootstrapServers(builder.Configuration);
    builder.Services.AddSingleton(sp => new ResultAnalyzer(options, pipeline, bootstrap, sp.GetRequiredService<ILogger<ResultAnalyzer>>()));
    builder.Services.AddHostedService<AnalyzerService>();
}
catch (ConfigurationException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
await builder.Build().RunAsync();
return 0;

// A value the binder cannot convert (e.g. Analyzer__SummaryInterval=often) is a configuration error like any other.
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

/// <summary>Hosts the analyzer's consume loop for the lifetime of the process.</summary>
internal sealed class AnalyzerService(ResultAnalyzer analyzer) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => analyzer.RunAsync(stoppingToken);
}
