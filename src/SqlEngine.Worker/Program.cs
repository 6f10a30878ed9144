using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.SqlEngine;

return await WorkerHost.RunAsync(args, builder =>
{
    var options = builder.Configuration.BindSection<SqlEngineOptions>(SqlEngineOptions.Section).Validate();
    var pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    var catalog = CampaignCatalog.Load(pipeline.CatalogPath);
    var kafka = KafkaClients.Validated(builder.Configuration.KafkaConnection());
    var database = DatabaseTarget.From(builder.Configuration.GetConnectionString(SqlEngineOptions.ConnectionName), options);
    return (services, stop) =>
        new SqlEngineRunner(options, database, pipeline, catalog, kafka, services.GetRequiredService<ILogger<SqlEngineRunner>>()).RunAsync(stop);
});
