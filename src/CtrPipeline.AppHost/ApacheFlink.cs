using System.Globalization;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

namespace CtrPipeline.AppHost;

/// <summary>Where the Flink engine finds its cluster: the SQL Gateway and the JobManager's REST API, and what to wait for.</summary>
public sealed record FlinkCluster(
    IResourceBuilder<IResourceWithConnectionString> Gateway,
    IResourceBuilder<IResourceWithConnectionString>? Rest,
    IReadOnlyList<IResourceBuilder<IResource>> Containers)
{
    /// <summary>Where the cluster's containers see the Kafka client's files (null for an existing cluster: the engine's own setting).</summary>
    public string? KafkaFilesFolder { get; init; }
}

/// <summary>
/// Apache Flink for containers mode: a JobManager, a TaskManager and the SQL Gateway, all from one image built by
/// flink/Dockerfile (the official Flink image plus the Kafka SQL connector), or an existing
/// SQL Gateway named by ConnectionStrings:flink-gateway (and its JobManager by ConnectionStrings:flink-rest). The
/// "flink" resource is the FlinkGateway project, which submits the CTR job as Flink SQL and follows it.
/// </summary>
public static class ApacheFlink
{
    public const string JobManager = "flink-jobmanager";
    public const string TaskManager = "flink-taskmanager";
    public const string SqlGateway = "flink-sql-gateway";
    public const string GatewayConnection = "flink-gateway";
    public const string RestConnection = "flink-rest";

    /// <summary>The Flink release the image is built from (flink/Dockerfile's FROM line says the same; a test checks).</summary>
    public const string Version = "1.20.1";
    public const string KafkaConnectorVersion = "3.3.0-1.20";
    public const int RestPort = 8081;
    public const int GatewayPort = 8083;

    /// <summary>
    /// The volume the JobManager and the TaskManager share for checkpoints and savepoints (flink/Dockerfile creates the
    /// directory for the flink user; Flink:StateDirectory's default is this path).
    /// </summary>
    public const string StateVolume = "ctr-flink-state";
    public const string StateInContainer = "/opt/ctr/state";

    /// <summary>
    /// The cluster: an existing gateway when ConnectionStrings:flink-gateway is set, else three containers. The files
    /// <paramref name="kafkaClient"/> names by path (the CA certificates, a PKCS#12 key store) are mounted read-only in
    /// the JobManager (the Kafka source's enumerator) and the TaskManager (readers and writers), where the job's
    /// properties say they are (<see cref="JavaKafkaProperties"/>).
    /// </summary>
    public static FlinkCluster AddFlinkCluster(this IDistributedApplicationBuilder builder, PipelineParameters parameters, KafkaClientProperties? kafkaClient = null)
    {
        if (builder.Configuration.GetConnectionString(GatewayConnection) is { Length: > 0 })
            return new FlinkCluster(
                builder.AddConnectionString(GatewayConnection),
                builder.Configuration.GetConnectionString(RestConnection) is { Length: > 0 } ? builder.AddConnectionString(RestConnection) : null,
                []);

        var jobManager = builder.AddFlinkContainer(JobManager)
            .WithArgs("jobmanager")
            .WithEnvironment("FLINK_PROPERTIES", Properties(
                ("jobmanager.rpc.address", JobManager),
                // Flink 1.19+ binds to localhost by default; other containers must reach it.
                ("jobmanager.bind-host", "0.0.0.0"),
                ("rest.address", JobManager),
                ("rest.bind-address", "0.0.0.0"),
                ("jobmanager.memory.process.size", "1600m"),
                ("execution.checkpointing.dir", $"file://{StateInContainer}/checkpoints"),
                ("execution.checkpointing.savepoint-dir", $"file://{StateInContainer}/savepoints")))
            .WithVolume(StateVolume, StateInContainer)
            .WithKafkaFiles(kafkaClient)
            .WithHttpEndpoint(targetPort: RestPort, name: "http")
            .WithHttpHealthCheck("/overview", endpointName: "http");

        var taskManager = builder.AddFlinkContainer(TaskManager)
            .WithArgs("taskmanager")
            .WithEnvironment("FLINK_PROPERTIES", Properties(
                ("jobmanager.rpc.address", JobManager),
                ("taskmanager.bind-host", "0.0.0.0"),
                ("taskmanager.host", TaskManager),
                ("taskmanager.numberOfTaskSlots", parameters.FlinkTaskSlots.ToString(CultureInfo.InvariantCulture)),
                ("taskmanager.memory.process.size", "2048m")))
            .WithVolume(StateVolume, StateInContainer)
            .WithKafkaFiles(kafkaClient)
            .WaitFor(jobManager);

        // The image's entrypoint runs any other command as is; the gateway submits to the JobManager's REST API.
        var gateway = builder.AddFlinkContainer(SqlGateway)
            .WithArgs("/opt/flink/bin/sql-gateway.sh", "start-foreground",
                "-Dsql-gateway.endpoint.rest.address=0.0.0.0",
                $"-Dsql-gateway.endpoint.rest.port={GatewayPort}",
                "-Dexecution.target=remote",
                $"-Drest.address={JobManager}",
                $"-Drest.port={RestPort}",
                $"-Djobmanager.rpc.address={JobManager}")
            .WithHttpEndpoint(targetPort: GatewayPort, name: "http")
            .WithHttpHealthCheck("/v1/info", endpointName: "http")
            .WaitFor(jobManager);

        var gatewayConnection = builder.AddConnectionString(GatewayConnection, ReferenceExpression.Create($"{gateway.GetEndpoint("http")}"));
        var restConnection = builder.AddConnectionString(RestConnection, ReferenceExpression.Create($"{jobManager.GetEndpoint("http")}"));
        return new FlinkCluster(gatewayConnection, restConnection, [jobManager, taskManager, gateway]) { KafkaFilesFolder = JavaKafkaProperties.DefaultFilesFolder };
    }

    /// <summary>The "flink" engine: the FlinkGateway project, started once Kafka's topics exist and the cluster is up.</summary>
    public static IResourceBuilder<ProjectResource> AddFlinkEngine(
        this IDistributedApplicationBuilder builder, FlinkCluster flink, KafkaBinding kafka, PipelineParameters parameters)
    {
        var engine = builder.AddProject<Projects.FlinkGateway>(Engines.Flink)
            .WithPipelineSettings(builder, parameters)
            .WithKafka(kafka)
            .WithReference(flink.Gateway);
        if (flink.Rest is not null) engine.WithReference(flink.Rest);
        if ((parameters.FlinkKafka ?? kafka.ContainerBootstrap) is { } bootstrap) engine.WithEnvironment("Flink__KafkaBootstrapServers", bootstrap);
        if (flink.KafkaFilesFolder is { } folder) engine.WithEnvironment("Flink__KafkaFilesFolder", folder);
        if (parameters.FlinkParallelism > 0) engine.WithEnvironment("Flink__Parallelism", parameters.FlinkParallelism.ToString(CultureInfo.InvariantCulture));
        foreach (var container in flink.Containers) engine.WaitFor(container);
        return engine;
    }

    private static IResourceBuilder<ContainerResource> AddFlinkContainer(this IDistributedApplicationBuilder builder, string name) =>
        builder.AddDockerfile(name,
            contextPath: PipelineTopology.InRepository(builder, "flink"),
            dockerfilePath: PipelineTopology.InRepository(builder, "flink", "Dockerfile"));

    /// <summary>Mounts each file a Java Kafka client reads by path, read-only, where the engine's properties name it (Spark's server too).</summary>
    internal static IResourceBuilder<ContainerResource> WithKafkaFiles(this IResourceBuilder<ContainerResource> container, KafkaClientProperties? kafkaClient)
    {
        foreach (var mount in JavaKafkaProperties.FileMounts(kafkaClient ?? KafkaClientProperties.None, JavaKafkaProperties.DefaultFilesFolder))
            container.WithBindMount(mount.HostPath, mount.ContainerPath, isReadOnly: true);
        return container;
    }

    /// <summary>FLINK_PROPERTIES: lines the image's entrypoint appends to Flink's configuration.</summary>
    private static string Properties(params (string Key, string Value)[] properties) =>
        string.Join("\n", properties.Select(p => $"{p.Key}: {p.Value}"));
}
