using System.Globalization;
using CtrPipeline.Contracts;

namespace CtrPipeline.AppHost;

/// <summary>The resources of one pipeline and how they are wired; Program.cs only chooses what to add.</summary>
public static class PipelineTopology
{
    public const string KafkaConnection = "kafka";
    public const string EmbeddedBroker = "embedded-kafka";
    public const string Producer = "producer";
    public const string Analyzer = "analyzer";
    public const string ResetTopicsCommand = "reset-topics";

    /// <summary>The dashboard property that carries a resource's description.</summary>
    public const string DescriptionProperty = "Description";

    /// <summary>What the embedded broker is and which clients work with it, shown with its resource in the dashboard.</summary>
    public const string EmbeddedBrokerDescription =
        "librdkafka's in-memory mock cluster, not Apache Kafka: Confluent.Kafka, kcat and KafkaJS are tested (and Apache " +
        "Kafka's Java client 2.4.1 was checked) to read metadata, produce, consume in a group and commit offsets; its proxy " +
        "answers CreateTopics (topic configs are ignored: timestamps stay CreateTime), but it has no DeleteTopics and no " +
        "group admin APIs (ListGroups, DescribeGroups); for a real Kafka run the AppHost " +
        "with --ConnectionStrings:kafka=host:port or in containers mode (docs/embedded-broker.md).";

    /// <summary>
    /// The embedded broker (librdkafka's in-memory mock cluster in the EmbeddedKafka project) and the "kafka"
    /// connection string pointing at its bootstrap port (9092 unless the kafka-port parameter says otherwise; 0 lets DCP
    /// allocate one), handed to the broker as EmbeddedKafka__Port.
    /// </summary>
    public static KafkaBinding AddEmbeddedKafka(this IDistributedApplicationBuilder builder, PipelineParameters parameters)
    {
        var broker = builder.AddProject<Projects.EmbeddedKafka>(EmbeddedBroker)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "Project", // as DCP's own updates name it
                Properties = [new ResourcePropertySnapshot(DescriptionProperty, EmbeddedBrokerDescription)],
            })
            .WithPipelineSettings(builder, parameters)
            .WithHttpEndpoint(name: "http")
            .WithEndpoint(name: "kafka", scheme: "tcp", port: parameters.KafkaPort, env: "EmbeddedKafka__Port", isProxied: false)
            .WithHttpHealthCheck("/health")
            .WithHttpCommand("/topics/reset", "Reset topics", commandName: ResetTopicsCommand, commandOptions: new HttpCommandOptions
            {
                Method = HttpMethod.Post,
                Description = "Empty every pipeline topic (events, results, dead letters, late records).",
                ConfirmationMessage = "Delete all records from every pipeline topic?",
                IconName = "Delete",
            });
        var bootstrap = broker.GetEndpoint("kafka");
        var connection = builder.AddConnectionString(KafkaConnection,
            ReferenceExpression.Create($"{bootstrap.Property(EndpointProperty.Host)}:{bootstrap.Property(EndpointProperty.Port)}"));
        return new KafkaBinding(connection, broker, Setup: null, ContainerBootstrap: null) { ProducerLinger = CtrPipeline.Contracts.EmbeddedBroker.ProducerLinger };
    }

    /// <summary>
    /// The producer, one worker per engine and the analyzer, each waiting for Kafka; Flink's and Spark's workers also
    /// for their clusters, the SQL engine for its database.
    /// </summary>
    public static void AddPipelineWorkers(this IDistributedApplicationBuilder builder, KafkaBinding kafka, PipelineParameters parameters,
        IReadOnlyList<string> engineIds, FlinkCluster? flink, SparkConnectServer? spark, SqlDatabase? sql)
    {
        var engines = engineIds.Select(engine => engine switch
            {
                Engines.Flink => builder.AddFlinkEngine(flink ?? throw new InvalidOperationException("The flink engine needs a Flink cluster."), kafka, parameters),
                Engines.Spark => builder.AddSparkEngine(spark ?? throw new InvalidOperationException("The spark engine needs a Spark Connect server."), kafka, parameters),
                Engines.Sql => builder.AddSqlEngine(sql ?? throw new InvalidOperationException("The sql engine needs a database."), kafka, parameters),
                _ => builder.AddProject<Projects.NativeEngine_Worker>(engine)
                    .WithEnvironment("Engine__Id", engine)
                    .WithEnvironment("Engine__StateTopic", parameters.Prefixed(TopicNames.EngineState))
                    .WithPipelineSettings(builder, parameters)
                    .WithKafka(kafka),
            })
            .Select((engine, i) => engine.WithReadinessCheck(engineIds[i]).WithRunGroup(parameters, engineIds[i]))
            .ToList();

        if (parameters.ExternalLoad) return; // the benchmark sends the load and measures the results itself

        var analyzer = builder.AddProject<Projects.Analyzer_Worker>(Analyzer)
            .WithEnvironment("Analyzer__SummaryPath", Path.Combine(RunsFolder(builder), "analyzer-summary.json"))
            .WithPipelineSettings(builder, parameters)
            .WithKafka(kafka);

        // The producer starts last, once the analyzer runs and every engine is ready (EngineReadiness: it holds its
        // partitions, its job or query runs), so the load does not pile up in Kafka while they start.
        var producer = builder.AddProject<Projects.Producer_Worker>(Producer)
            .WithEnvironment("Producer__Profile", parameters.Profile)
            .WithEnvironment("Producer__Rate", parameters.Rate.ToString(CultureInfo.InvariantCulture))
            .WithEnvironment("Producer__TracedEventsPerSecond", parameters.TracesPerSecond.ToString(CultureInfo.InvariantCulture))
            .WithPipelineSettings(builder, parameters)
            .WithKafka(kafka)
            .WaitFor(analyzer);
        if (kafka.ProducerLinger is { } linger) producer.WithEnvironment("Producer__Linger", linger.ToString("c", CultureInfo.InvariantCulture));
        foreach (var engine in engines) producer.WaitFor(engine);
    }

    /// <summary>
    /// With a topic prefix (one benchmark run's topics on a shared cluster), the engine's consumer group is the run's
    /// own as well, and so is its transactional id, which derives from it: runs never share offsets or fence each other.
    /// </summary>
    private static IResourceBuilder<ProjectResource> WithRunGroup(this IResourceBuilder<ProjectResource> engine, PipelineParameters parameters, string engineId)
    {
        if (parameters.TopicPrefix is null) return engine;
        var section = engineId switch { Engines.Sql => "Sql", Engines.Flink => "Flink", Engines.Spark => null, _ => "Engine" };
        return section is null ? engine : engine.WithEnvironment($"{section}__GroupId", parameters.Prefixed(Engines.DefaultGroupId(engineId)));
    }

    /// <summary>runs/apphost in the repository, next to the headless runs.</summary>
    public static string RunsFolder(IDistributedApplicationBuilder builder) => RunsFolder(builder.AppHostDirectory);

    /// <summary>runs/apphost in the repository of the AppHost in <paramref name="appHostDirectory"/>.</summary>
    public static string RunsFolder(string appHostDirectory) => Path.GetFullPath(Path.Combine(appHostDirectory, "..", "..", "runs", "apphost"));

    /// <summary>
    /// The kafka connection string and the cluster's client properties (<see cref="WithKafkaClientProperties"/>), and
    /// the wait for the broker to run and for its topics to exist.
    /// </summary>
    internal static IResourceBuilder<ProjectResource> WithKafka(this IResourceBuilder<ProjectResource> project, KafkaBinding kafka)
    {
        project.WithReference(kafka.Connection).WithKafkaClientProperties(kafka);
        if (kafka.Server is not null) project.WaitFor(kafka.Server);
        if (kafka.Setup is not null) project.WaitForCompletion(kafka.Setup);
        return project;
    }

    /// <summary>
    /// How a service finds the cluster's client properties: the file's path (Kafka__ConfigFile, never its contents) and
    /// the password from the secret parameter (Kafka__Properties__sasl.password), so no secret is in plain sight.
    /// </summary>
    internal static IResourceBuilder<ProjectResource> WithKafkaClientProperties(this IResourceBuilder<ProjectResource> project, KafkaBinding kafka)
    {
        if (kafka.ClientProperties.File is { } file) project.WithEnvironment("Kafka__ConfigFile", file);
        if (kafka.Password is { } password) project.WithEnvironment("Kafka__Properties__sasl.password", password);
        return project;
    }

    /// <summary>The shared settings (docs/architecture.md, contracts), set once here for every service as Pipeline__* variables.</summary>
    internal static IResourceBuilder<ProjectResource> WithPipelineSettings(
        this IResourceBuilder<ProjectResource> project, IDistributedApplicationBuilder builder, PipelineParameters parameters)
    {
        foreach (var (name, value) in parameters.Pipeline().Environment(CatalogPath(builder))) project.WithEnvironment(name, value);
        return project;
    }

    /// <summary>data/campaigns.csv in the repository: one catalog file for every engine and the producer.</summary>
    public static string CatalogPath(IDistributedApplicationBuilder builder) => InRepository(builder, "data", "campaigns.csv");

    /// <summary>A path under the repository root, two levels above src/CtrPipeline.AppHost.</summary>
    internal static string InRepository(IDistributedApplicationBuilder builder, params string[] parts) =>
        Path.GetFullPath(Path.Combine([builder.AppHostDirectory, "..", "..", .. parts]));
}

/// <summary>
/// Where the services find Kafka: a connection string; the broker to wait for (none for an existing cluster); the
/// one-shot topic set-up to wait for (none for the embedded broker, which creates its topics itself); and the
/// bootstrap address as other containers reach it (null where they cannot).
/// </summary>
public sealed record KafkaBinding(
    IResourceBuilder<IResourceWithConnectionString> Connection,
    IResourceBuilder<IResource>? Server,
    IResourceBuilder<ProjectResource>? Setup,
    string? ContainerBootstrap)
{
    /// <summary>The load producer's linger this Kafka needs, when not the producer's default (the embedded broker's).</summary>
    public TimeSpan? ProducerLinger { get; init; }

    /// <summary>
    /// The cluster's client properties as its file (Parameters:kafka-config) gives them, the password parameter aside;
    /// every service reads the same file.
    /// </summary>
    public KafkaClientProperties ClientProperties { get; init; } = KafkaClientProperties.None;

    /// <summary>The secret parameter kafka-password, each service's sasl.password; the dashboard shows it masked.</summary>
    public IResourceBuilder<ParameterResource>? Password { get; init; }
}
