using Analyzer.Worker;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
try
{
    var options = builder.Configuration.BindSection<AnalyzerOptions>(AnalyzerOptions.Section).Validate();
    var pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
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

/// <summary>Hosts the analyzer's consume loop for the lifetime of the process.</summary>
internal sealed class AnalyzerService(ResultAnalyzer analyzer) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => analyzer.RunAsync(stoppingToken);
}
