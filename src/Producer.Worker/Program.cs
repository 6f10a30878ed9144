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
        return string.IsNullOrEmpty(options.ProgressTopic) ? producer.RunAsync(stop) : FollowedAsync();

        // With a progress topic, whoever started this producer (the benchmark, maybe on another machine) follows it
        // there: once it has reported done, the process ends, exit code 0.
        async Task FollowedAsync()
        {
            await new ProgressPublisher(options, kafka, services.GetRequiredService<ILogger<ProgressPublisher>>()).RunAsync(producer, stop);
            services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        }
    };
});
