using CtrPipeline.Analyzer;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

return await WorkerHost.RunAsync(args, builder =>
{
    var options = builder.Configuration.BindSection<AnalyzerOptions>(AnalyzerOptions.Section).Validate();
    var pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    var kafka = KafkaClients.Validated(builder.Configuration.KafkaConnection());
    return (services, stop) =>
        new ResultAnalyzer(options, pipeline, kafka, services.GetRequiredService<ILogger<ResultAnalyzer>>()).RunAsync(stop);
});
