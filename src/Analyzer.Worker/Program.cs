using CtrPipeline.Analyzer;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

return await WorkerHost.RunAsync(args, builder =>
{
    var options = builder.Configuration.BindSection<AnalyzerOptions>(AnalyzerOptions.Section).Validate();
    var pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    var bootstrap = KafkaClients.BootstrapServers(builder.Configuration);
    return (services, stop) =>
        new ResultAnalyzer(options, pipeline, bootstrap, services.GetRequiredService<ILogger<ResultAnalyzer>>()).RunAsync(stop);
});
