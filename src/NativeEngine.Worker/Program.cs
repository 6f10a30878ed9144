using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.NativeEngine;

return await WorkerHost.RunAsync(args, builder =>
{
    var options = builder.Configuration.BindSection<EngineOptions>(EngineOptions.Section).Validate();
    var pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    var catalog = CampaignCatalog.Load(pipeline.CatalogPath);
    var kafka = KafkaClients.Validated(builder.Configuration.KafkaConnection());
    return (services, stop) =>
        new NativeEngineRunner(options, pipeline, catalog, kafka, services.GetRequiredService<ILogger<NativeEngineRunner>>()).RunAsync(stop);
});
