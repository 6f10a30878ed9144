using System.Diagnostics;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtrPipeline.Kafka.Tests;

/// <summary>
/// A cluster that refuses the client's credentials or certificate ends the client's work with one line naming the
/// cluster and the cause, quickly and without the secret, where an absent broker is ridden out.
/// </summary>
public sealed class KafkaRefusalTests : IDisposable
{
    private const string Password = "s3cr3t-Pa55word";
    private static readonly TimeSpan Quickly = TimeSpan.FromSeconds(15);

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "kafka-refusal-" + Guid.NewGuid().ToString("N"));
    private readonly TlsCertificates.Generated _tls;

    public KafkaRefusalTests() => _tls = TlsCertificates.Generate(_folder, clientCertificate: false);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private SecuredCluster ScramOverTls() => SecuredCluster.Start(
        new ListenerSecurity(SecurityProtocol.SaslSsl, new Dictionary<string, string> { ["bench"] = Password }, ["SCRAM-SHA-512"], _tls.Server));

    private KafkaConnection Client(SecuredCluster cluster, string password, bool trustCa = true)
    {
        var properties = new Dictionary<string, string>
        {
            ["security.protocol"] = "SASL_SSL",
            ["sasl.mechanisms"] = "SCRAM-SHA-512",
            ["sasl.username"] = "bench",
            ["sasl.password"] = password,
        };
        if (trustCa) properties["ssl.ca.location"] = _tls.CaPath;
        return new KafkaConnection(cluster.Bootstrap, KafkaClientProperties.From(properties, "client.properties"));
    }

    [Fact]
    public async Task The_access_check_passes_with_the_right_credentials()
    {
        await using var cluster = ScramOverTls();
        Assert.True(KafkaClients.CheckAccess(Client(cluster, Password), Quickly));
    }

    [Fact]
    public async Task A_wrong_password_ends_the_access_check_quickly_with_one_line_and_no_secret()
    {
        await using var cluster = ScramOverTls();
        var wrong = "wrong-" + Password;
        var clock = Stopwatch.StartNew();

        var refused = Assert.Throws<KafkaRefusedException>(() => KafkaClients.CheckAccess(Client(cluster, wrong), TimeSpan.FromMinutes(1)));

        Assert.True(clock.Elapsed < Quickly, $"refused after {clock.Elapsed}");
        Assert.StartsWith($"Kafka {cluster.Bootstrap} refused authentication (SASL/SCRAM-SHA-512: ", refused.Message);
        Assert.Contains("invalid user name or password", refused.Message);
        Assert.DoesNotContain(wrong, refused.Message);
        Assert.DoesNotContain('\n', refused.Message);
        Assert.IsAssignableFrom<ConfigurationException>(refused); // one "error:" line and exit 2, as a bad setting
    }

    [Fact]
    public async Task A_certificate_the_client_cannot_verify_ends_the_access_check_with_the_tls_cause()
    {
        await using var cluster = ScramOverTls();

        var refused = Assert.Throws<KafkaRefusedException>(() => KafkaClients.CheckAccess(Client(cluster, Password, trustCa: false), TimeSpan.FromMinutes(1)));

        Assert.StartsWith($"Kafka {cluster.Bootstrap}: the TLS handshake failed (", refused.Message);
        Assert.Contains("certificate verify failed", refused.Message);
    }

    [Fact]
    public void An_absent_broker_is_not_a_refusal()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        Assert.False(KafkaClients.CheckAccess(new KafkaConnection($"127.0.0.1:{port}"), TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public async Task An_engine_consumer_stops_at_a_refusal_instead_of_retrying_forever()
    {
        await using var cluster = ScramOverTls();
        using var kafka = new EngineKafka(Client(cluster, "wrong"), "refused-group", "native-continuous", NullLogger.Instance, _ => { });
        kafka.Consumer.Subscribe("events");
        var clock = Stopwatch.StartNew();

        var refused = Assert.Throws<KafkaRefusedException>(() =>
        {
            while (clock.Elapsed < TimeSpan.FromMinutes(1))
            {
                kafka.ThrowIfRefused();
                kafka.Consumer.Consume(TimeSpan.FromMilliseconds(200));
            }
        });

        Assert.True(clock.Elapsed < Quickly, $"refused after {clock.Elapsed}");
        Assert.Contains("refused authentication (SASL/SCRAM-SHA-512", refused.Message);
    }
}
