using System.Globalization;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

namespace CtrPipeline.AppHost;

/// <summary>A Kafka broker container whose connection string is its bootstrap address as the host's processes reach it.</summary>
public sealed class KafkaServerResource(string name) : ContainerResource(name), IResourceWithConnectionString
{
    public const string HostEndpointName = "tcp";

    public EndpointReference HostEndpoint => new(this, HostEndpointName);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{HostEndpoint.Property(EndpointProperty.Host)}:{HostEndpoint.Property(EndpointProperty.Port)}");
}

/// <summary>
/// Real Apache Kafka for containers mode: one KRaft node (broker and controller) from the official image, or an
/// existing cluster named by ConnectionStrings:kafka. Either way the KafkaSetup project creates the pipeline topics
/// (LogAppendTime) first, and every worker waits for it to complete.
/// </summary>
public static class ApacheKafka
{
    public const string Broker = PipelineTopology.KafkaConnection;
    public const string Setup = "kafka-setup";

    // The ASF's own image; 3.9 is the last 3.x line, KRaft only here, and talks to clients from 0.10 on.
    public const string Image = "apache/kafka";
    public const string Tag = "3.9.0";

    /// <summary>Listener ports inside the container: host clients, other containers, the KRaft controller.</summary>
    public const int HostListenerPort = 9092;
    public const int InternalListenerPort = 9093;
    public const int ControllerPort = 9094;

    /// <summary>The broker's address for other containers on the AppHost's network (Flink).</summary>
    public static readonly string InternalBootstrap = Broker + ":" + InternalListenerPort;

    private static readonly string Listeners = $"HOST://:{HostListenerPort},INTERNAL://:{InternalListenerPort},CONTROLLER://:{ControllerPort}";

    // A fixed KRaft cluster id (16 bytes, base64url): the container starts from empty storage every run.
    private const string ClusterId = "Y3RyLXBpcGVsaW5lLWthZg";

    public static KafkaBinding AddKafkaContainer(this IDistributedApplicationBuilder builder, PipelineParameters parameters)
    {
        var kafka = builder.AddResource(new KafkaServerResource(Broker))
            .WithImage(Image, Tag)
            // The kafka-port parameter (9092 by default) is published as is, so kcat and other tools find it there; 0 lets DCP pick.
            .WithEndpoint(port: parameters.KafkaPort, targetPort: HostListenerPort, name: KafkaServerResource.HostEndpointName, isProxied: parameters.KafkaPort is null);
        var host = kafka.Resource.HostEndpoint;
        kafka
            .WithEnvironment("CLUSTER_ID", ClusterId)
            .WithEnvironment("KAFKA_NODE_ID", "1")
            .WithEnvironment("KAFKA_PROCESS_ROLES", "broker,controller")
            .WithEnvironment("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:" + ControllerPort)
            .WithEnvironment("KAFKA_LISTENERS", Listeners)
            // Host processes get the published port back; containers (Flink) the internal listener under the resource's name.
            .WithEnvironment("KAFKA_ADVERTISED_LISTENERS",
                ReferenceExpression.Create($"HOST://{host.Property(EndpointProperty.Host)}:{host.Property(EndpointProperty.Port)},INTERNAL://{InternalBootstrap}"))
            .WithEnvironment("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "HOST:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT")
            .WithEnvironment("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
            .WithEnvironment("KAFKA_INTER_BROKER_LISTENER_NAME", "INTERNAL")
            .WithEnvironment("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
            .WithEnvironment("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            .WithEnvironment("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
            .WithEnvironment("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
            // Topics come from kafka-setup only, with the pipeline's partitions and broker arrival times.
            .WithEnvironment("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
            .WithEnvironment("KAFKA_NUM_PARTITIONS", parameters.Pipeline().Partitions.ToString(CultureInfo.InvariantCulture))
            .WithEnvironment("KAFKA_LOG_MESSAGE_TIMESTAMP_TYPE", "LogAppendTime");

        var setup = builder.AddKafkaSetup(parameters, new KafkaBinding(kafka, kafka, null, InternalBootstrap)).WaitFor(kafka);
        return new KafkaBinding(kafka, kafka, setup, InternalBootstrap);
    }

    /// <summary>
    /// An existing cluster (ConnectionStrings:kafka in the AppHost's configuration): no broker is started. A secured one
    /// comes with its client properties file (Parameters:kafka-config) and, optionally, the SASL password as the secret
    /// parameter kafka-password, so it need not sit in the file.
    /// </summary>
    public static KafkaBinding AddExternalKafka(this IDistributedApplicationBuilder builder, PipelineParameters parameters)
    {
        var connection = builder.AddConnectionString(PipelineTopology.KafkaConnection);
        var password = builder.Configuration[$"{PipelineParameters.Section}:{PipelineParameters.KafkaPasswordParameter}"] is { Length: > 0 }
            ? builder.AddParameter(PipelineParameters.KafkaPasswordParameter, secret: true)
            : null;
        var binding = new KafkaBinding(connection, null, null, builder.Configuration.GetConnectionString(PipelineTopology.KafkaConnection))
        {
            ClientProperties = parameters.KafkaClient ?? KafkaClientProperties.None,
            Password = password,
        };
        return binding with { Setup = builder.AddKafkaSetup(parameters, binding) };
    }

    private static IResourceBuilder<ProjectResource> AddKafkaSetup(this IDistributedApplicationBuilder builder, PipelineParameters parameters, KafkaBinding kafka) =>
        builder.AddProject<Projects.KafkaSetup>(Setup)
            .WithPipelineSettings(builder, parameters)
            .WithReference(kafka.Connection)
            .WithKafkaClientProperties(kafka);
}
