using CtrPipeline.Contracts;
using FlinkGateway;

// The Flink engine: submits the CTR job to a Flink cluster as Flink SQL through its SQL Gateway, follows it through
// the JobManager's REST API, and stops it with a savepoint when stopped. Flink reads events from and writes results to Kafka itself.
// `FlinkGateway print-sql [--Pipeline:WindowSize=00:01:00 ...]` prints the job's statements for a configuration instead.
if (args is ["print-sql", .. var settings])
    return PrintSql.Run(settings);

return await WorkerHost.RunAsync(args, builder =>
{
    var pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    var options = builder.Configuration.BindSection<FlinkOptions>(FlinkOptions.Section).Resolve(builder.Configuration, pipeline);
    var catalog = CampaignCatalog.Load(pipeline.CatalogPath);
    // Stopping the job takes a savepoint: the host waits for it instead of its default 30 s.
    builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = FlinkEngineRunner.StopTimeout + TimeSpan.FromSeconds(10));
    return async (services, stop) =>
    {
        var logger = services.GetRequiredService<ILogger<FlinkEngineRunner>>();
        using var gatewayHttp = FlinkClients.Http(options.GatewayUrl);
        using var restHttp = options.RestUrl.Length > 0 ? FlinkClients.Http(options.RestUrl) : null;
        using var metrics = new FlinkMetrics();
        await new FlinkEngineRunner(options, pipeline, catalog, new SqlGatewayClient(gatewayHttp, options.StartupTimeout),
            restHttp is null ? null : new FlinkRestClient(restHttp), metrics, logger).RunAsync(stop);
    };
});

/// <summary>The statements the engine would submit, its Kafka secrets as ***, for the SQL client or a review; nothing is contacted.</summary>
internal static class PrintSql
{
    public static int Run(string[] settings)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(settings).Build();
        try
        {
            var pipeline = configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
            var options = configuration.BindSection<FlinkOptions>(FlinkOptions.Section).Resolve(configuration, pipeline, requireGateway: false);
            var catalog = CampaignCatalog.Load(pipeline.CatalogPath);
            var statements = FlinkSqlJob.Statements(pipeline, options, catalog).Select(s => FlinkSqlJob.Mask(s, options));
            Console.WriteLine(string.Join($";{Environment.NewLine}{Environment.NewLine}", statements) + ";");
            return 0;
        }
        catch (ConfigurationException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
