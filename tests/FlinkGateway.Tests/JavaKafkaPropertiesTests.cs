using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CtrPipeline.Contracts;

namespace FlinkGateway.Tests;

/// <summary>The client properties in librdkafka's names, as the Java Kafka client of Flink and Spark is given them.</summary>
public sealed class JavaKafkaPropertiesTests
{
    private const string Flink = JavaKafkaProperties.FlinkSqlConnectorPackage;

    private static KafkaClientProperties Client(string text) => KafkaClientProperties.Parse(text, "client.properties");

    private static IReadOnlyList<KeyValuePair<string, string>> Java(string text, string package = Flink, Func<string, string>? readFile = null) =>
        Translate(text, package, readFile).Properties;

    private static JavaKafkaProperties Translate(string text, string package = Flink, Func<string, string>? readFile = null) =>
        JavaKafkaProperties.From(Client(text), package, "/etc/ctr/kafka", readFile ?? (path => throw new FileNotFoundException($"no file {path}")));

    private static KeyValuePair<string, string> P(string name, string value) => new(name, value);

    /// <summary>A client certificate and its key as PEM, the way openssl writes them (PKCS#8 key).</summary>
    internal static (string Certificate, string Key) ClientCertificate()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=ctr-client", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return (certificate.ExportCertificatePem() + "\n", rsa.ExportPkcs8PrivateKeyPem() + "\n");
    }

    [Fact]
    public void No_properties_translate_to_none()
    {
        Assert.Same(JavaKafkaProperties.None, Translate(""));
        Assert.Empty(JavaKafkaProperties.None.Properties);
    }

    [Fact]
    public void Sasl_plain_becomes_a_jaas_config_with_the_plain_login_module_relocated_by_the_flink_sql_connector()
    {
        Assert.Equal(
        [
            P("security.protocol", "SASL_SSL"),
            P("sasl.mechanism", "PLAIN"),
            P("sasl.jaas.config", "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.plain.PlainLoginModule required username=\"ctr\" password=\"s3cret\";"),
        ], Java("security.protocol=sasl_ssl\nsasl.mechanisms=plain\nsasl.username=ctr\nsasl.password=s3cret\n"));
    }

    [Fact]
    public void Scram_for_spark_names_the_login_module_where_kafka_clients_has_it()
    {
        Assert.Equal(
        [
            P("security.protocol", "SASL_PLAINTEXT"),
            P("sasl.mechanism", "SCRAM-SHA-256"),
            P("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"ctr\" password=\"pw\";"),
        ], Java("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=ctr\nsasl.password=pw", JavaKafkaProperties.KafkaClientsPackage));
    }

    [Fact]
    public void Quotes_and_backslashes_in_the_credentials_are_escaped_for_kafkas_jaas_parser()
    {
        var jaas = Java("security.protocol=SASL_SSL\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username=a\"b\nsasl.password=c\\d\"e'f")
            .Single(p => p.Key == "sasl.jaas.config").Value;

        Assert.Equal($"{Flink}.common.security.scram.ScramLoginModule required username=\"a\\\"b\" password=\"c\\\\d\\\"e'f\";", jaas);
    }

    [Fact]
    public void A_credential_with_a_line_break_is_refused()
    {
        var client = KafkaClientProperties.From([P("security.protocol", "SASL_SSL"), P("sasl.mechanisms", "PLAIN"), P("sasl.username", "u"), P("sasl.password", "a\nb")], "Kafka:Properties");

        var e = Assert.Throws<ConfigurationException>(() => JavaKafkaProperties.From(client, Flink, "/etc/ctr/kafka", File.ReadAllText));
        Assert.Equal("Kafka:Properties: sasl.password contains a line break, which a Java JAAS config cannot hold.", e.Message);
    }

    [Fact]
    public void The_ca_file_becomes_a_pem_trust_store_at_its_path_in_the_containers()
    {
        var java = Translate("security.protocol=SSL\nssl.ca.location=/home/me/certs/ca.pem\nssl.endpoint.identification.algorithm=none");

        Assert.Equal(
        [
            P("security.protocol", "SSL"),
            P("ssl.truststore.type", "PEM"),
            P("ssl.truststore.location", "/etc/ctr/kafka/ca.pem"),
            P("ssl.endpoint.identification.algorithm", ""),
        ], java.Properties);
        Assert.Equal([new KafkaFileMount("/home/me/certs/ca.pem", "/etc/ctr/kafka/ca.pem")], java.Mounts);
        Assert.Empty(java.Secrets);
    }

    [Fact]
    public void Inline_ca_certificates_become_the_trust_stores_certificates_and_probe_leaves_javas_default_trust_store()
    {
        var ca = ClientCertificate().Certificate;
        var client = KafkaClientProperties.From([P("security.protocol", "SSL"), P("ssl.ca.pem", ca)], "Kafka:Properties");

        Assert.Equal([P("security.protocol", "SSL"), P("ssl.truststore.type", "PEM"), P("ssl.truststore.certificates", ca)],
            JavaKafkaProperties.From(client, Flink, "/etc/ctr/kafka", File.ReadAllText).Properties);
        var probe = Translate("security.protocol=SSL\nssl.ca.location=probe");
        Assert.Equal([P("security.protocol", "SSL")], probe.Properties);
        Assert.Empty(probe.Mounts);
    }

    [Fact]
    public void A_client_certificate_and_key_become_an_inline_pem_key_store_read_when_the_job_is_submitted()
    {
        var (certificate, key) = ClientCertificate();
        var files = new Dictionary<string, string> { ["/certs/client.pem"] = certificate, ["/certs/client.key"] = key };

        var java = Translate("security.protocol=SSL\nssl.ca.location=/certs/ca.pem\nssl.certificate.location=/certs/client.pem\nssl.key.location=/certs/client.key",
            readFile: path => files[path]);

        Assert.Equal(
        [
            P("security.protocol", "SSL"),
            P("ssl.truststore.type", "PEM"),
            P("ssl.truststore.location", "/etc/ctr/kafka/ca.pem"),
            P("ssl.keystore.type", "PEM"),
            P("ssl.keystore.certificate.chain", certificate),
            P("ssl.keystore.key", key),
        ], java.Properties);
        // Only the CA is read by path in the containers; the key is a secret, the certificate is not.
        Assert.Equal([new KafkaFileMount("/certs/ca.pem", "/etc/ctr/kafka/ca.pem")], java.Mounts);
        Assert.Equal([key], java.Secrets);
        Assert.Equal("key: ***", java.Mask("key: " + key));
    }

    [Fact]
    public void An_encrypted_key_needs_its_password_which_is_passed_on_and_masked()
    {
        var (certificate, _) = ClientCertificate();
        using var rsa = RSA.Create(2048);
        var encrypted = rsa.ExportEncryptedPkcs8PrivateKeyPem("k3y-pw", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10000));
        var client = KafkaClientProperties.From([P("security.protocol", "SSL"), P("ssl.certificate.pem", certificate), P("ssl.key.pem", encrypted)], "Kafka:Properties");

        var e = Assert.Throws<ConfigurationException>(() => JavaKafkaProperties.From(client, Flink, "/etc/ctr/kafka", File.ReadAllText));
        Assert.Equal("Kafka:Properties: the client key is encrypted (BEGIN ENCRYPTED PRIVATE KEY): give its password as ssl.key.password.", e.Message);

        var java = JavaKafkaProperties.From(client.With([P("ssl.key.password", "k3y-pw")], "secret"), Flink, "/etc/ctr/kafka", File.ReadAllText);
        Assert.Equal(P("ssl.key.password", "k3y-pw"), java.Properties[^1]);
        Assert.Equal("ssl.keystore.key=*** ssl.key.password=***", java.Mask($"ssl.keystore.key={encrypted} ssl.key.password=k3y-pw"));
    }

    [Fact]
    public void A_key_in_openssls_older_rsa_form_is_refused_with_the_conversion_and_without_showing_it()
    {
        const string rsaKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAs3cr3t\n-----END RSA PRIVATE KEY-----\n";
        var (certificate, _) = ClientCertificate();

        var e = Assert.Throws<ConfigurationException>(() =>
            Translate("security.protocol=SSL\nssl.certificate.location=/c.pem\nssl.key.location=/k.pem", readFile: path => path == "/k.pem" ? rsaKey : certificate));

        Assert.Contains("is not a PKCS#8 PEM key", e.Message);
        Assert.Contains("openssl pkcs8 -topk8", e.Message);
        Assert.DoesNotContain("MIIE", e.Message);
    }

    [Fact]
    public void A_pkcs12_key_store_is_mounted_and_two_files_of_one_name_get_two_paths()
    {
        var java = Translate("security.protocol=SSL\nssl.ca.location=/a/client.p12\nssl.keystore.location=/b/client.p12\nssl.keystore.password=st0re");

        Assert.Equal(
        [
            P("security.protocol", "SSL"),
            P("ssl.truststore.type", "PEM"),
            P("ssl.truststore.location", "/etc/ctr/kafka/client.p12"),
            P("ssl.keystore.type", "PKCS12"),
            P("ssl.keystore.location", "/etc/ctr/kafka/2-client.p12"),
            P("ssl.keystore.password", "st0re"),
        ], java.Properties);
        Assert.Equal([new KafkaFileMount("/a/client.p12", "/etc/ctr/kafka/client.p12"), new KafkaFileMount("/b/client.p12", "/etc/ctr/kafka/2-client.p12")], java.Mounts);
        Assert.Equal(java.Mounts, JavaKafkaProperties.FileMounts(Client("ssl.ca.location=/a/client.p12\nssl.keystore.location=/b/client.p12"), "/etc/ctr/kafka/"));
    }

    [Fact]
    public void Properties_both_clients_name_alike_are_passed_on()
    {
        Assert.Equal([P("client.dns.lookup", "use_all_dns_ips"), P("reconnect.backoff.max.ms", "5000")],
            Java("client.dns.lookup=use_all_dns_ips\nreconnect.backoff.max.ms=5000"));
    }

    [Theory]
    [InlineData("enable.ssl.certificate.verification=false", "the Kafka client property enable.ssl.certificate.verification cannot be given to Flink or Spark")]
    [InlineData("ssl.crl.location=/certs/crl.pem", "the Kafka client property ssl.crl.location cannot be given to Flink or Spark")]
    [InlineData("security.protocol=SASL_SSL\nsasl.mechanisms=OAUTHBEARER", "SASL mechanism OAUTHBEARER cannot be given to Flink or Spark; the pipeline supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.")]
    [InlineData("security.protocol=SASL_SSL", "SASL mechanism GSSAPI cannot be given to Flink or Spark")]
    [InlineData("security.protocol=SASL_SSL\nsasl.mechanisms=PLAIN\nsasl.username=u", "SASL PLAIN needs sasl.password.")]
    [InlineData("security.protocol=tls", "security.protocol must be plaintext, ssl, sasl_plaintext or sasl_ssl (got 'tls').")]
    [InlineData("ssl.endpoint.identification.algorithm=strict", "ssl.endpoint.identification.algorithm must be none or https (got 'strict').")]
    [InlineData("ssl.keystore.location=/c.p12", "A PKCS#12 key store (ssl.keystore.location) needs ssl.keystore.password.")]
    [InlineData("ssl.certificate.location=/c.pem", "a client certificate needs its private key and the key its certificate")]
    [InlineData("ssl.ca.location=/ca.pem\nssl.ca.pem=x", "give the CA certificates once")]
    public void What_the_java_client_cannot_be_given_is_refused_naming_the_property(string properties, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => Translate(properties, readFile: _ => ClientCertificate().Certificate));

        Assert.StartsWith("client.properties: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void An_unreadable_certificate_file_is_a_configuration_error_naming_it()
    {
        var e = Assert.Throws<ConfigurationException>(() =>
            JavaKafkaProperties.From(Client($"ssl.certificate.location=/nonexistent/{Guid.NewGuid():N}.pem\nssl.key.location=/k.pem"), Flink, "/etc/ctr/kafka", File.ReadAllText));

        Assert.Matches("^client.properties: ssl.certificate.location /nonexistent/[0-9a-f]{32}.pem cannot be read: ", e.Message);
    }
}
