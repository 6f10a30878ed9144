using Confluent.Kafka;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

namespace CtrPipeline.Kafka.Tests;

/// <summary>The client properties file (kcat -F's format), what the pipeline refuses in it, and how every client gets it.</summary>
public sealed class KafkaClientPropertiesTests
{
    private const string Secret = "s3cr3t-Pa55word";

    private const string ManagedServiceFile = $"""
        # as a managed service hands it out
        bootstrap.servers=broker-1.example.com:9093
        security.protocol=SASL_SSL
        sasl.mechanisms=SCRAM-SHA-512
        ! a comment of the Java kind
        sasl.username=bench
        sasl.password={Secret}
        ssl.ca.location=/etc/ssl/ca.pem

        """;

    [Fact]
    public void A_file_is_read_in_order_with_its_bootstrap_servers_kept_apart()
    {
        var properties = KafkaClientProperties.Parse(ManagedServiceFile, "client.properties");

        Assert.Equal("broker-1.example.com:9093", properties.BootstrapServers);
        Assert.Equal(["security.protocol", "sasl.mechanisms", "sasl.username", "sasl.password", "ssl.ca.location"], properties.Keys);
        Assert.Equal("SASL_SSL", properties.SecurityProtocol);
        Assert.Equal("SCRAM-SHA-512", properties.SaslMechanism);
        Assert.Equal([KeyValuePair.Create("ssl.ca.location", "/etc/ssl/ca.pem")], properties.Files);
    }

    [Fact]
    public void Secrets_never_show_in_its_text_or_in_a_masked_message()
    {
        var properties = KafkaClientProperties.Parse(ManagedServiceFile, "client.properties");
        var connection = new KafkaConnection("broker-1.example.com:9093", properties);

        Assert.DoesNotContain(Secret, properties.ToString());
        Assert.Contains("sasl.password=***", properties.ToString());
        Assert.DoesNotContain(Secret, connection.ToString());
        Assert.Equal("auth failed for bench with ***", properties.Mask($"auth failed for bench with {Secret}"));
        Assert.True(KafkaClientProperties.IsSecret("ssl.key.password"));
        Assert.True(KafkaClientProperties.IsSecret("ssl.key.pem"));
        Assert.True(KafkaClientProperties.IsSecret("sasl.oauthbearer.client.secret"));
        Assert.False(KafkaClientProperties.IsSecret("sasl.username"));
    }

    [Theory]
    [InlineData("group.id=mine", "group.id is set by the pipeline itself")]
    [InlineData("enable.auto.commit=true", "enable.auto.commit is set by the pipeline itself")]
    [InlineData("security.protocol", "line 1: expected name=value")]
    [InlineData("bootstrap.servers=a:9092\nbootstrap.servers=b:9092", "bootstrap.servers is given twice")]
    public void What_the_pipeline_cannot_take_is_refused_with_the_file_and_the_reason(string text, string message)
    {
        var error = Assert.Throws<ConfigurationException>(() => KafkaClientProperties.Parse(text, "client.properties"));
        Assert.StartsWith("client.properties", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        var error = Assert.Throws<ConfigurationException>(() => KafkaClientProperties.Load("/nonexistent/client.properties"));
        Assert.Contains("/nonexistent/client.properties does not exist", error.Message);
    }

    [Fact]
    public void Configuration_sets_a_property_over_the_file_as_the_apphost_passes_a_secret_parameter()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "security.protocol=SASL_SSL\nsasl.mechanisms=PLAIN\nsasl.username=bench\nsasl.password=from-file\n");
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:kafka"] = "127.0.0.1:9093",
                ["Kafka:ConfigFile"] = file,
                ["Kafka:Properties:sasl.password"] = Secret,
            }).Build();

            var kafka = configuration.KafkaConnection();

            Assert.Equal("127.0.0.1:9093", kafka.BootstrapServers);
            Assert.Equal(Secret, kafka.Properties["sasl.password"]);
            Assert.Equal(Path.GetFullPath(file), kafka.Properties.File);
            Assert.Equal("PLAIN", kafka.Properties.SaslMechanism);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Every_kind_of_client_gets_the_properties_over_the_pipeline_settings()
    {
        var kafka = new KafkaConnection("127.0.0.1:9093", KafkaClientProperties.Parse(ManagedServiceFile, "client.properties"));

        foreach (ClientConfig config in new ClientConfig[]
                 {
                     KafkaClients.Producer(kafka, "p"), KafkaClients.Consumer(kafka, "g", "c"), KafkaClients.Admin(kafka, "a"),
                 })
        {
            Assert.Equal("127.0.0.1:9093", config.BootstrapServers);
            Assert.Equal("SASL_SSL", config.Get("security.protocol"));
            Assert.Equal(Secret, config.SaslPassword);
            Assert.Equal("/etc/ssl/ca.pem", config.SslCaLocation);
        }
    }

    [Fact]
    public void A_property_librdkafka_does_not_know_is_a_configuration_error_before_any_connection()
    {
        var kafka = new KafkaConnection("127.0.0.1:1", KafkaClientProperties.Parse($"security.protocol=SASL_SSL\nsasl.pasword={Secret}", "client.properties"));

        var error = Assert.Throws<ConfigurationException>(() => KafkaClients.Validated(kafka));

        Assert.StartsWith("client.properties: ", error.Message);
        Assert.Contains("sasl.pasword", error.Message);
        Assert.DoesNotContain(Secret, error.Message);
    }
}
