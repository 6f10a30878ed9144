using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;
using static CtrPipeline.Contracts.ConfigurationException;

namespace SparkDriver;

/// <summary>
/// Where Spark Connect is and how the CTR query runs, bound from the "Spark" section. The endpoint comes from
/// ConnectionStrings:spark-connect (set by the AppHost) unless given here.
/// </summary>
public sealed class SparkOptions
{
    public const string Section = "Spark";
    public const string Connection = "spark-connect";
    public const string DefaultCheckpointBase = "/tmp/ctr-spark/checkpoints";

    /// <summary>The Spark Connect endpoint: sc://host:15002 (Spark's own notation) or http://host:15002.</summary>
    public string Endpoint { get; set; } = "";

    /// <summary>Kafka as the Spark server reaches it; inside the AppHost's network that is not the address the host uses.</summary>
    public string KafkaBootstrapServers { get; set; } = "";

    /// <summary>
    /// Where the Spark server sees the files the Kafka client properties name by path (the CA certificates, a PKCS#12
    /// key store); the AppHost mounts them there in containers mode.
    /// </summary>
    public string KafkaFilesFolder { get; set; } = JavaKafkaProperties.DefaultFilesFolder;

    /// <summary>The Kafka client properties (Kafka:ConfigFile, Kafka:Properties) in the Java client's names; set by <see cref="Resolve"/>.</summary>
    public JavaKafkaProperties KafkaClient { get; private set; } = JavaKafkaProperties.None;

    /// <summary>The campaign catalog as the Spark server reads it: CSV with a header line (ad_id, campaign_id, campaign_name, advertiser).</summary>
    public string CatalogPath { get; set; } = "/opt/ctr/campaigns.csv";

    /// <summary>
    /// Where the query keeps its offsets and state on the server; a restart with the same location resumes from it.
    /// Empty: <see cref="DefaultCheckpointBase"/>/ctr-pipeline scoped to the run's events topic
    /// (<see cref="PipelineSettings.RunScoped"/>): a run on its own topics must not resume another run's offsets and state.
    /// </summary>
    public string CheckpointLocation { get; set; } = "";

    /// <summary>The streaming query's name in Spark (its UI and progress reports).</summary>
    public string QueryName { get; set; } = "ctr-pipeline";

    /// <summary>append (one final row per window once the watermark passes it) or update (changed rows at every trigger).</summary>
    public string OutputMode { get; set; } = "append";

    /// <summary>How often the query's status and progress are read.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long to wait for the server to answer at start.</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>The endpoint as a gRPC address (http), from either notation.</summary>
    public Uri GrpcAddress { get; private set; } = new("http://localhost:15002");

    public SparkOptions Resolve(IConfiguration configuration, PipelineSettings pipeline, bool requireEndpoint = true)
    {
        if (CheckpointLocation.Length == 0) CheckpointLocation = $"{DefaultCheckpointBase}/{pipeline.RunScoped("ctr-pipeline")}";
        if (Endpoint.Length == 0) Endpoint = configuration.GetConnectionString(Connection) ?? "";
        if (KafkaBootstrapServers.Length == 0) KafkaBootstrapServers = configuration.GetConnectionString("kafka") ?? "";

        if (requireEndpoint)
        {
            Require(Endpoint.Length > 0,
                "No Spark Connect endpoint: set ConnectionStrings:spark-connect (environment variable ConnectionStrings__spark-connect), e.g. sc://localhost:15002, or start the pipeline through the AppHost in containers mode.");
            GrpcAddress = ParseEndpoint(Endpoint);
        }
        Require(KafkaBootstrapServers.Length > 0,
            "No Kafka address for Spark: set Spark:KafkaBootstrapServers (as the Spark server reaches Kafka) or ConnectionStrings:kafka.");
        Require(KafkaFilesFolder.StartsWith('/'), $"Spark:KafkaFilesFolder must be an absolute path on the Spark server (got '{KafkaFilesFolder}').");
        // spark-sql-kafka-0-10 uses kafka-clients as published, without relocating it.
        KafkaClient = JavaKafkaProperties.From(configuration.KafkaClientProperties(), JavaKafkaProperties.KafkaClientsPackage, KafkaFilesFolder, File.ReadAllText);
        Require(CatalogPath.Length > 0, "Spark:CatalogPath must name the campaign catalog as the Spark server reads it.");
        Require(CheckpointLocation.Length > 0, "Spark:CheckpointLocation must not be empty.");
        Require(QueryName.Length > 0, "Spark:QueryName must not be empty.");
        Require(OutputMode is "append" or "update", $"Spark:OutputMode must be append or update (got '{OutputMode}').");
        Require(PollInterval > TimeSpan.Zero, $"Spark:PollInterval must be positive (got {PollInterval}).");
        Require(StartupTimeout > TimeSpan.Zero, $"Spark:StartupTimeout must be positive (got {StartupTimeout}).");
        return this;
    }

    /// <summary>sc://host:port[/;param=value...] or http(s)://host:port; Spark Connect's default port is 15002.</summary>
    public static Uri ParseEndpoint(string endpoint)
    {
        var text = endpoint.Trim();
        var tls = false;
        if (text.StartsWith("sc://", StringComparison.OrdinalIgnoreCase))
        {
            var rest = text["sc://".Length..];
            var parameters = rest.Split('/', 2) is [_, var p] ? p : "";
            tls = parameters.Contains("use_ssl=true", StringComparison.OrdinalIgnoreCase);
            text = (tls ? "https://" : "http://") + rest.Split('/')[0];
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            throw new ConfigurationException($"ConnectionStrings:spark-connect must be sc://host:port or http://host:port (got '{endpoint}').");
        var explicitPort = text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..].Split('/')[0].Contains(':');
        return explicitPort ? uri : new UriBuilder(uri) { Port = 15002 }.Uri;
    }
}
