using System.Globalization;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

namespace CtrPipeline.AppHost;

/// <summary>Where the Spark engine finds Spark Connect, and the container to wait for (none for an existing server).</summary>
public sealed record SparkConnectServer(IResourceBuilder<IResourceWithConnectionString> Connection, IResourceBuilder<IResource>? Container)
{
    /// <summary>Where the server's container sees the Kafka client's files (null for an existing server: the engine's own setting).</summary>
    public string? KafkaFilesFolder { get; init; }
}

/// <summary>
/// Apache Spark for containers mode: one container running the Spark Connect server (local mode) from the image
/// spark/Dockerfile builds (the official Spark image plus the Spark Connect server and the Kafka connector), with the
/// campaign catalog mounted; or an existing Spark Connect endpoint named by ConnectionStrings:spark-connect. The
/// "spark" resource is the SparkDriver project, which starts the CTR streaming query over Spark Connect.
/// </summary>
public static class ApacheSpark
{
    public const string Server = "spark-connect-server";
    public const string Connection = "spark-connect";

    /// <summary>The Spark release the image is built from (spark/Dockerfile's FROM line says the same; a test checks).</summary>
    public const string Version = "3.5.3";
    public const int ConnectPort = 15002;
    public const int UiPort = 4040;

    /// <summary>Where the catalog is mounted, as the query's CSV read sees it.</summary>
    public const string CatalogInContainer = "/opt/ctr/campaigns.csv";

    /// <summary>
    /// The server: an existing one when ConnectionStrings:spark-connect is set, else a container, with the files
    /// <paramref name="kafkaClient"/> names by path (the CA certificates, a PKCS#12 key store) mounted read-only where
    /// the query's Kafka options say they are (<see cref="JavaKafkaProperties"/>).
    /// </summary>
    public static SparkConnectServer AddSparkConnectServer(this IDistributedApplicationBuilder builder, PipelineParameters parameters, KafkaClientProperties? kafkaClient = null)
    {
        if (builder.Configuration.GetConnectionString(Connection) is { Length: > 0 })
            return new SparkConnectServer(builder.AddConnectionString(Connection), null);

        var server = builder.AddDockerfile(Server, PipelineTopology.InRepository(builder, "spark"))
            // start-connect-server.sh runs in the foreground (its log on stdout) instead of daemonising.
            .WithEnvironment("SPARK_NO_DAEMONIZE", "true")
            .WithEnvironment("SPARK_LOG_DIR", "/tmp/spark-logs")
            .WithEnvironment("SPARK_PID_DIR", "/tmp")
            .WithArgs("/opt/spark/sbin/start-connect-server.sh",
                "--conf", $"spark.connect.grpc.binding.port={ConnectPort}",
                "--conf", "spark.sql.session.timeZone=UTC",
                "--conf", "spark.sql.shuffle.partitions=" + parameters.Pipeline().Partitions.ToString(CultureInfo.InvariantCulture))
            .WithEndpoint(targetPort: ConnectPort, name: "grpc", scheme: "http")
            .WithHttpEndpoint(targetPort: UiPort, name: "ui")
            .WithBindMount(PipelineTopology.CatalogPath(builder), CatalogInContainer, isReadOnly: true)
            .WithKafkaFiles(kafkaClient);
        var grpc = server.GetEndpoint("grpc");
        var connection = builder.AddConnectionString(Connection,
            ReferenceExpression.Create($"sc://{grpc.Property(EndpointProperty.Host)}:{grpc.Property(EndpointProperty.Port)}"));
        return new SparkConnectServer(connection, server) { KafkaFilesFolder = JavaKafkaProperties.DefaultFilesFolder };
    }

    /// <summary>The "spark" engine: the SparkDriver project, started once Kafka's topics exist and the server runs.</summary>
    public static IResourceBuilder<ProjectResource> AddSparkEngine(
        this IDistributedApplicationBuilder builder, SparkConnectServer spark, KafkaBinding kafka, PipelineParameters parameters)
    {
        var engine = builder.AddProject<Projects.SparkDriver>(Engines.Spark)
            .WithPipelineSettings(builder, parameters)
            .WithKafka(kafka)
            .WithReference(spark.Connection);
        if ((parameters.SparkKafka ?? kafka.ContainerBootstrap) is { } bootstrap) engine.WithEnvironment("Spark__KafkaBootstrapServers", bootstrap);
        if (spark.KafkaFilesFolder is { } folder) engine.WithEnvironment("Spark__KafkaFilesFolder", folder);
        if (parameters.SparkCatalog is { } catalog) engine.WithEnvironment("Spark__CatalogPath", catalog);
        if (spark.Container is not null) engine.WaitFor(spark.Container);
        return engine;
    }
}
