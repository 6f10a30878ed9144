using CtrPipeline.Contracts;
using Grpc.Net.Client;
using SparkDriver;

// The Spark engine: starts the CTR query on a Spark Connect server as a Structured Streaming plan, follows its
// progress, and stops it when stopped. Spark reads events from and writes results to Kafka itself.
// `SparkDriver print-plan [--Pipeline:WindowSize=00:01:00 ...]` prints the plan for a configuration instead (JSON, Kafka secrets as ***).
if (args is ["print-plan", .. var settings])
{
    var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(settings).Build();
    try
    {
        var pipeline = configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
        var options = configuration.BindSection<SparkOptions>(SparkOptions.Section).Resolve(configuration, pipeline, requireEndpoint: false);
        Console.WriteLine(CtrQueryPlan.Json(CtrQueryPlan.StartCommand(pipeline, options), options, indented: true));
        return 0;
    }
    catch (ConfigurationException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 2;
    }
}

return await WorkerHost.RunAsync(args, builder =>
{
    var pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    var options = builder.Configuration.BindSection<SparkOptions>(SparkOptions.Section).Resolve(builder.Configuration, pipeline);
    return async (services, stop) =>
    {
        var logger = services.GetRequiredService<ILogger<SparkQueryRunner>>();
        using var channel = GrpcChannel.ForAddress(options.GrpcAddress);
        using var metrics = new SparkMetrics();
        await new SparkQueryRunner(options, pipeline, new SparkConnectClient(channel, options.GrpcAddress), metrics, logger).RunAsync(stop);
    };
});
