using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;
using static CtrPipeline.Contracts.ConfigurationException;

namespace FlinkGateway;

/// <summary>
/// Where the Flink cluster is and how the CTR job runs on it, bound from the "Flink" section. The two URLs come from
/// the connection strings the AppHost sets (ConnectionStrings:flink-gateway, ConnectionStrings:flink-rest) unless given here.
/// </summary>
public sealed class FlinkOptions
{
    public const string Section = "Flink";
    public const string GatewayConnection = "flink-gateway";
    public const string RestConnection = "flink-rest";
    public const string AtLeastOnce = "at-least-once";
    public const string ExactlyOnce = "exactly-once";
    public const string DefaultJobName = "ctr-pipeline";

    /// <summary>The SQL Gateway's REST endpoint, e.g. http://localhost:8083.</summary>
    public string GatewayUrl { get; set; } = "";

    /// <summary>The JobManager's REST endpoint (job state, metrics, cancel); optional: without it the job is only submitted and stopped.</summary>
    public string RestUrl { get; set; } = "";

    /// <summary>Kafka as the Flink cluster reaches it; inside the AppHost's network that is not the address the host uses.</summary>
    public string KafkaBootstrapServers { get; set; } = "";

    /// <summary>
    /// Where the JobManager and TaskManagers see the files the Kafka client properties name by path (the CA
    /// certificates, a PKCS#12 key store); the AppHost mounts them there in containers mode.
    /// </summary>
    public string KafkaFilesFolder { get; set; } = JavaKafkaProperties.DefaultFilesFolder;

    /// <summary>
    /// The Kafka client properties (Kafka:ConfigFile, Kafka:Properties) in the Java client's names, with the login
    /// module in the Flink SQL connector's relocated package; set by <see cref="Resolve"/>.
    /// </summary>
    public JavaKafkaProperties KafkaClient { get; private set; } = JavaKafkaProperties.None;

    /// <summary>
    /// The job's name in Flink (pipeline.name), its gateway session's, and its sinks' transactional-id prefix; a running
    /// job of this name left by an earlier run is stopped first. Empty: ctr-pipeline, scoped to the run's events topic
    /// (<see cref="PipelineSettings.RunScoped"/>), so that runs on their own topics never stop or fence each other's job.
    /// </summary>
    public string JobName { get; set; } = "";

    public string GroupId { get; set; } = Engines.DefaultGroupId(Engines.Flink);

    /// <summary>Parallelism of the job; 0 means one task per events partition.</summary>
    public int Parallelism { get; set; }

    /// <summary>
    /// The Kafka sink's guarantee (sink.delivery-guarantee): at-least-once (checkpoints flush the sink), or exactly-once
    /// (each checkpoint's rows in one Kafka transaction, visible to read_committed readers when the checkpoint completes).
    /// </summary>
    public string DeliveryGuarantee { get; set; } = AtLeastOnce;

    /// <summary>Checkpoints commit the source's Kafka offsets and flush (or, exactly-once, commit) the sink.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Where the cluster keeps checkpoints (&lt;dir&gt;/checkpoints) and savepoints (&lt;dir&gt;/savepoints), as the
    /// JobManager and every TaskManager reach it: a shared volume or a distributed file system. Without a checkpoint
    /// directory Flink keeps checkpoints in the JobManager's memory, 5 MiB per subtask at most.
    /// </summary>
    public string StateDirectory { get; set; } = "file:///opt/ctr/state";

    /// <summary>
    /// A folder on the machine that runs FlinkGateway where it keeps, per job name, the savepoint its last job was
    /// stopped with (or that the job ran without one), for the next start to resume from (<see cref="JobLedger"/>).
    /// </summary>
    public string SavepointStore { get; set; } = Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "CtrPipeline", "flink");

    /// <summary>How often the job's state and metrics are read from the JobManager.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long to wait for the gateway to answer at start, and for one statement to finish.</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromMinutes(3);

    public string CheckpointDirectory => StateDirectory.TrimEnd('/') + "/checkpoints";

    public string SavepointDirectory => StateDirectory.TrimEnd('/') + "/savepoints";

    /// <summary>The job's parallelism: <see cref="Parallelism"/>, or one task per events partition when it is 0.</summary>
    public int EffectiveParallelism(PipelineSettings pipeline) => Parallelism > 0 ? Parallelism : pipeline.Partitions;

    /// <summary>
    /// Fills the URLs and Kafka address from the connection strings and translates the Kafka client properties, then
    /// checks every setting (the gateway's only when it will be called).
    /// </summary>
    public FlinkOptions Resolve(IConfiguration configuration, PipelineSettings pipeline, bool requireGateway = true)
    {
        if (JobName.Length == 0) JobName = pipeline.RunScoped(DefaultJobName);
        if (GatewayUrl.Length == 0) GatewayUrl = configuration.GetConnectionString(GatewayConnection) ?? "";
        if (RestUrl.Length == 0) RestUrl = configuration.GetConnectionString(RestConnection) ?? "";
        if (KafkaBootstrapServers.Length == 0) KafkaBootstrapServers = configuration.GetConnectionString("kafka") ?? "";

        if (requireGateway)
        {
            Require(GatewayUrl.Length > 0,
                "No Flink SQL Gateway: set ConnectionStrings:flink-gateway (environment variable ConnectionStrings__flink-gateway), e.g. http://localhost:8083, or start the pipeline through the AppHost in containers mode.");
            RequireUrl(GatewayUrl, "ConnectionStrings:flink-gateway (or Flink:GatewayUrl)");
        }
        if (RestUrl.Length > 0) RequireUrl(RestUrl, "ConnectionStrings:flink-rest (or Flink:RestUrl)");
        Require(KafkaBootstrapServers.Length > 0,
            "No Kafka address for Flink: set Flink:KafkaBootstrapServers (as the Flink cluster reaches Kafka) or ConnectionStrings:kafka.");
        Require(KafkaFilesFolder.StartsWith('/'), $"Flink:KafkaFilesFolder must be an absolute path in the Flink containers (got '{KafkaFilesFolder}').");
        KafkaClient = JavaKafkaProperties.From(configuration.KafkaClientProperties(), JavaKafkaProperties.FlinkSqlConnectorPackage, KafkaFilesFolder, File.ReadAllText);
        Require(JobName.Length > 0 && GroupId.Length > 0, "Flink:JobName and Flink:GroupId must not be empty.");
        Require(Parallelism is >= 0 and <= 1024, $"Flink:Parallelism must be between 0 (one per partition) and 1024 (got {Parallelism}).");
        Require(DeliveryGuarantee is AtLeastOnce or ExactlyOnce,
            $"Flink:DeliveryGuarantee must be {AtLeastOnce} or {ExactlyOnce} (got '{DeliveryGuarantee}').");
        Require(Uri.TryCreate(StateDirectory, UriKind.Absolute, out _),
            $"Flink:StateDirectory must be a URI the Flink cluster can write to, e.g. file:///opt/ctr/state or s3://bucket/flink (got '{StateDirectory}').");
        Require(SavepointStore.Length > 0, "Flink:SavepointStore must name a folder for the record of the last job's savepoint.");
        Require(CheckpointInterval >= TimeSpan.FromSeconds(1), $"Flink:CheckpointInterval must be at least 1 s (got {CheckpointInterval}).");
        Require(PollInterval > TimeSpan.Zero, $"Flink:PollInterval must be positive (got {PollInterval}).");
        Require(StartupTimeout > TimeSpan.Zero, $"Flink:StartupTimeout must be positive (got {StartupTimeout}).");
        return this;
    }

    private static void RequireUrl(string url, string setting) =>
        Require(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https",
            $"{setting} must be an http(s) URL (got '{url}').");
}
