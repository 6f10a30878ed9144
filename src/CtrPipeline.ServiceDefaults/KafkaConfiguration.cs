using CtrPipeline.Contracts;

namespace Microsoft.Extensions.Configuration;

/// <summary>
/// How a service finds its Kafka cluster in configuration: ConnectionStrings:kafka (the bootstrap servers), and the
/// client properties from the file Kafka:ConfigFile, with Kafka:Properties:&lt;name&gt; set over it (the AppHost passes
/// a password that way, from a secret parameter, so it sits in no file).
/// </summary>
public static class KafkaConfiguration
{
    /// <summary>The connection string name the AppHost hands to every service (ConnectionStrings:kafka).</summary>
    public const string ConnectionName = "kafka";

    public const string ConfigFileKey = "Kafka:ConfigFile";

    public const string PropertiesSection = "Kafka:Properties";

    /// <summary>The client properties (none unless configured); a bad file or property is a <see cref="ConfigurationException"/>.</summary>
    public static KafkaClientProperties KafkaClientProperties(this IConfiguration configuration)
    {
        var file = configuration[ConfigFileKey];
        var properties = string.IsNullOrWhiteSpace(file) ? CtrPipeline.Contracts.KafkaClientProperties.None : CtrPipeline.Contracts.KafkaClientProperties.Load(file);
        var overrides = configuration.GetSection(PropertiesSection).GetChildren()
            .Where(p => p.Value is not null)
            .Select(p => KeyValuePair.Create(p.Key, p.Value!))
            .ToList();
        return overrides.Count == 0 ? properties : properties.With(overrides, PropertiesSection);
    }

    /// <summary>
    /// The cluster: ConnectionStrings:kafka, else bootstrap.servers of the client properties, with those properties;
    /// a clear error telling the user what to set when neither names the servers.
    /// </summary>
    public static KafkaConnection KafkaConnection(this IConfiguration configuration)
    {
        var properties = configuration.KafkaClientProperties();
        var servers = configuration.GetConnectionString(ConnectionName) is { Length: > 0 } configured ? configured : properties.BootstrapServers;
        if (string.IsNullOrEmpty(servers))
            throw new ConfigurationException(
                "No Kafka bootstrap servers: set ConnectionStrings:kafka (environment variable ConnectionStrings__kafka), e.g. 127.0.0.1:9092, or start the pipeline through the AppHost.");
        return new KafkaConnection(servers, properties);
    }
}
