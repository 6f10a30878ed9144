using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.Producer;

return await WorkerHost.RunAsync(args, builder =>
{
    var options = builder.Configuration.BindSection<ProducerOptions>(ProducerOptions.Section).Validate();
    var pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    var catalog = CampaignCatalog.Load(pipeline.CatalogPath);
    var kafka = KafkaClients.Validated(builder.Configuration.KafkaConnection());
    return (services, stop) =>
        new EventProducer(options, pipeline, catalog, kafka, services.GetRequiredService<ILogger<EventProducer>>()).RunAsync(stop);
});
