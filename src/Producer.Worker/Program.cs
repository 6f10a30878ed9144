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
    {
        var producer = new EventProducer(options, pipeline, catalog, kafka, services.GetRequiredService<ILogger<EventProducer>>());
        // With a progress topic, whoever started this producer (the benchmark, maybe on another machine) follows it there.
        return string.IsNullOrEmpty(options.ProgressTopic)
            ? producer.RunAsync(stop)
            : new ProgressPublisher(options, kafka, services.GetRequiredService<ILogger<ProgressPublisher>>()).RunAsync(producer, stop);
    };
});
