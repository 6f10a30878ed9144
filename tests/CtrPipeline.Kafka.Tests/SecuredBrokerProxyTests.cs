using System.Buffers.Binary;
using System.Net.Sockets;
using Confluent.Kafka;
using static CtrPipeline.Kafka.Tests.RawKafkaFrames;

namespace CtrPipeline.Kafka.Tests;

/// <summary>
/// The proxy as a secured Kafka listener (ListenerSecurity): librdkafka clients with TLS, SASL PLAIN and SCRAM over
/// real sockets get through; the wrong password, mechanism, CA or certificate is refused, quickly, with the error a
/// client of a real Kafka cluster sees; and nothing but ApiVersions reaches the mock before authentication.
/// </summary>
public sealed class SecuredBrokerProxyTests : IDisposable
{
    private static readonly Dictionary<string, string> Users = new() { ["alice"] = "alice-secret", ["bob"] = "bob-secret" };

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "secured-proxy-" + Guid.NewGuid().ToString("N"));
    private readonly TlsCertificates.Generated _tls;

    public SecuredBrokerProxyTests() => _tls = TlsCertificates.Generate(_folder, clientCertificate: true);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData("PLAIN")]
    [InlineData("SCRAM-SHA-256")]
    public async Task Sasl_plaintext_clients_authenticate_then_produce_consume_and_read_metadata(string mechanism)
    {
        await using var cluster = SecuredCluster.Start(new ListenerSecurity(SecurityProtocol.SaslPlaintext, Users));
        KafkaRoundtrip.Roundtrip(cluster.Bootstrap, cluster.Ports, Sasl("SASL_PLAINTEXT", mechanism, "alice", "alice-secret"));
    }

    [Fact]
    public async Task Sasl_ssl_with_scram_sha_512_works_through_every_broker_of_a_cluster()
    {
        var security = new ListenerSecurity(SecurityProtocol.SaslSsl, Users, ["SCRAM-SHA-512"], _tls.Server);
        await using var cluster = SecuredCluster.Start(security, brokers: 2);
        var client = Sasl("SASL_SSL", "SCRAM-SHA-512", "bob", "bob-secret");
        client["ssl.ca.location"] = _tls.CaPath;
        KafkaRoundtrip.Roundtrip(cluster.Bootstrap, cluster.Ports, client);
    }

    [Fact]
    public async Task Ssl_clients_that_trust_the_ca_get_through()
    {
        await using var cluster = SecuredCluster.Start(new ListenerSecurity(SecurityProtocol.Ssl, serverCertificate: _tls.Server));
        KafkaRoundtrip.Roundtrip(cluster.Bootstrap, cluster.Ports, new() { ["security.protocol"] = "SSL", ["ssl.ca.location"] = _tls.CaPath });
    }

    [Fact]
    public async Task Mutual_tls_clients_with_a_certificate_from_the_ca_get_through()
    {
        await using var cluster = SecuredCluster.Start(MutualTls());
        KafkaRoundtrip.Roundtrip(cluster.Bootstrap, cluster.Ports, new()
        {
            ["security.protocol"] = "SSL",
            ["ssl.ca.location"] = _tls.CaPath,
            ["ssl.certificate.location"] = _tls.ClientCertificatePath,
            ["ssl.key.location"] = _tls.ClientKeyPath,
        });
    }

    [Theory]
    [InlineData("PLAIN", "alice", "wrong")]
    [InlineData("SCRAM-SHA-256", "alice", "wrong")]
    [InlineData("SCRAM-SHA-512", "alice", "wrong")]
    [InlineData("SCRAM-SHA-512", "mallory", "alice-secret")]
    public async Task A_wrong_password_or_user_is_refused_with_sasl_authentication_failed(string mechanism, string user, string password)
    {
        var security = new ListenerSecurity(SecurityProtocol.SaslSsl, Users, serverCertificate: _tls.Server);
        await using var cluster = SecuredCluster.Start(security);
        var client = Sasl("SASL_SSL", mechanism, user, password);
        client["ssl.ca.location"] = _tls.CaPath;

        var error = FirstError(cluster, client);
        Assert.Equal(ErrorCode.Local_Authentication, error.Code); // librdkafka's name for the broker's error 58
        Assert.Contains($"Authentication failed: invalid user name or password ({mechanism})", error.Reason);
    }

    [Fact]
    public async Task A_mechanism_the_listener_does_not_enable_is_refused_with_the_enabled_list()
    {
        await using var cluster = SecuredCluster.Start(new ListenerSecurity(SecurityProtocol.SaslPlaintext, Users, ["SCRAM-SHA-512"]));
        var error = FirstError(cluster, Sasl("SASL_PLAINTEXT", "PLAIN", "alice", "alice-secret"));
        Assert.Equal(ErrorCode.Local_Authentication, error.Code);
        Assert.Contains("Broker: Unsupported SASL mechanism: broker's supported mechanisms: SCRAM-SHA-512", error.Reason);
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_ca_fails_to_verify_the_broker()
    {
        await using var cluster = SecuredCluster.Start(new ListenerSecurity(SecurityProtocol.Ssl, serverCertificate: _tls.Server));
        var error = FirstError(cluster, new() { ["security.protocol"] = "SSL" });
        Assert.Equal(ErrorCode.Local_Ssl, error.Code);
        Assert.Contains("certificate verify failed", error.Reason);
    }

    [Fact]
    public async Task A_plaintext_client_of_a_tls_listener_sees_only_disconnects()
    {
        await using var cluster = SecuredCluster.Start(new ListenerSecurity(SecurityProtocol.Ssl, serverCertificate: _tls.Server));
        var (error, log) = FirstErrorAndLog(cluster, new() { ["security.protocol"] = "PLAINTEXT" });
        // librdkafka raises no error of its own for a connection closed during its ApiVersions request, only logs it.
        Assert.Equal(ErrorCode.Local_AllBrokersDown, error.Code);
        Assert.Contains("Disconnected: connection closed by peer: receive 0 after POLLIN", log);
        Assert.Contains("in state APIVERSION_QUERY", log);
    }

    [Fact]
    public async Task A_mutual_tls_listener_refuses_a_client_without_a_certificate()
    {
        await using var cluster = SecuredCluster.Start(MutualTls());
        var (error, log) = FirstErrorAndLog(cluster, new() { ["security.protocol"] = "SSL", ["ssl.ca.location"] = _tls.CaPath });
        AssertClosedAfterTlsHandshake(error, log);
    }

    [Fact]
    public async Task A_mutual_tls_listener_refuses_a_certificate_from_another_ca()
    {
        var other = TlsCertificates.Generate(Path.Combine(_folder, "other"), clientCertificate: true);
        await using var cluster = SecuredCluster.Start(MutualTls());
        var (error, log) = FirstErrorAndLog(cluster, new()
        {
            ["security.protocol"] = "SSL",
            ["ssl.ca.location"] = _tls.CaPath,
            ["ssl.certificate.location"] = other.ClientCertificatePath,
            ["ssl.key.location"] = other.ClientKeyPath,
        });
        AssertClosedAfterTlsHandshake(error, log);
    }

    /// <summary>Metadata v1 for all topics, correlation id 2, client id "probe".</summary>
    private static readonly byte[] MetadataV1 = Convert.FromHexString("00000013" + "0003" + "0001" + "00000002" + "0005" + "70726f6265" + "ffffffff");

    [Fact]
    public async Task Before_authentication_only_ApiVersions_reaches_the_mock_and_it_advertises_the_sasl_apis()
    {
        // Without SASL the same Metadata request is answered: the refusal below is the listener's, not the request's.
        await using (var open = SecuredCluster.Start(ListenerSecurity.Plaintext))
        {
            using var plain = await Connect(open.Bootstrap);
            Assert.Equal(2, BinaryPrimitives.ReadInt32BigEndian(await Exchange(plain.GetStream(), MetadataV1)));
        }

        await using var cluster = SecuredCluster.Start(new ListenerSecurity(SecurityProtocol.SaslPlaintext, Users));
        using var connection = await Connect(cluster.Bootstrap);
        var stream = connection.GetStream();
        var versions = ParseApiVersionsV2(await Exchange(stream, ApiVersionsV2));
        Assert.Equal((1, 1), versions[17]); // SaslHandshake
        Assert.Equal((0, 1), versions[36]); // SaslAuthenticate
        Assert.Equal((0, 4), versions[19]); // CreateTopics

        await stream.WriteAsync(MetadataV1);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await stream.ReadAsync(new byte[64], timeout.Token)); // closed, no response
    }

    /// <summary>
    /// In TLS 1.3 the client's handshake is done before the server has checked its certificate: the refusal reaches
    /// it as the connection closing, which librdkafka logs; its error is that no broker is up.
    /// </summary>
    private static void AssertClosedAfterTlsHandshake(Error error, string log)
    {
        Assert.Equal(ErrorCode.Local_AllBrokersDown, error.Code);
        Assert.Contains("Disconnected: SSL connection closed by peer", log);
    }

    /// <summary>Mutual TLS with the certificate and CA read back from their PEM files, as a user would give them.</summary>
    private ListenerSecurity MutualTls() => new(
        SecurityProtocol.Ssl,
        serverCertificate: TlsCertificates.LoadCertificate(Path.Combine(_folder, TlsCertificates.ServerCertificateFile), Path.Combine(_folder, TlsCertificates.ServerKeyFile)),
        clientCertificateIssuers: TlsCertificates.LoadAuthorities(_tls.CaPath));

    private static Dictionary<string, string> Sasl(string protocol, string mechanism, string user, string password) => new()
    {
        ["security.protocol"] = protocol,
        ["sasl.mechanisms"] = mechanism,
        ["sasl.username"] = user,
        ["sasl.password"] = password,
    };

    /// <summary>The first error a producer reports (its error handler); it must come within 10 s.</summary>
    private static Error FirstError(SecuredCluster cluster, Dictionary<string, string> client) => FirstErrorAndLog(cluster, client).Error;

    /// <summary>The first error a producer reports, and librdkafka's log lines until then.</summary>
    private static (Error Error, string Log) FirstErrorAndLog(SecuredCluster cluster, Dictionary<string, string> client)
    {
        var first = new TaskCompletionSource<Error>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var config = KafkaRoundtrip.With(new ProducerConfig { BootstrapServers = cluster.Bootstrap }, client);
        using var producer = new ProducerBuilder<Null, string>(config)
            .SetErrorHandler((_, e) => first.TrySetResult(e))
            .SetLogHandler((_, m) => log.Enqueue(m.Message))
            .Build();
        producer.Produce("events", new Message<Null, string> { Value = "never delivered" });
        Assert.True(first.Task.Wait(TimeSpan.FromSeconds(10)), "no error within 10 s");
        return (first.Task.Result, string.Join("\n", log));
    }

    private static async Task<TcpClient> Connect(string address)
    {
        var connection = new TcpClient();
        await connection.ConnectAsync("127.0.0.1", int.Parse(address[(address.LastIndexOf(':') + 1)..]));
        return connection;
    }
}
