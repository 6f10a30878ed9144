using System.Diagnostics;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace CtrPipeline.Kafka.Tests;

/// <summary>
/// The EmbeddedKafka process with EmbeddedKafka:Security and EmbeddedKafka:Tls set, as a user would run it to try a
/// secured client without a cluster: certificates generated into a folder, SASL users from the configuration.
/// </summary>
public sealed class SecuredEmbeddedKafkaTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "secured-embedded-kafka-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task EmbeddedKafka_with_SASL_SSL_and_client_certificates_serves_librdkafka_clients()
    {
        var httpPort = EmbeddedKafkaProcess.FreePort();
        var start = WorkerProcess.StartInfo("EmbeddedKafka", new Dictionary<string, string>
        {
            ["EmbeddedKafka__Port"] = "0",
            ["EmbeddedKafka__Brokers"] = "2",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{httpPort}",
            ["EmbeddedKafka__Security__Protocol"] = "SASL_SSL",
            ["EmbeddedKafka__Security__Mechanisms"] = "SCRAM-SHA-256",
            ["EmbeddedKafka__Security__Users__alice"] = "alice-secret",
            ["EmbeddedKafka__Tls__Folder"] = _folder,
            ["EmbeddedKafka__Tls__RequireClientCertificate"] = "true",
        });
        using var broker = Process.Start(start)!;
        var brokerLog = Task.WhenAll(broker.StandardOutput.ReadToEndAsync(), broker.StandardError.ReadToEndAsync());
        try
        {
            var bootstrap = await EmbeddedKafkaProcess.WaitBootstrap(broker, httpPort);
            using (var http = new HttpClient())
                Assert.Equal(await File.ReadAllTextAsync(Path.Combine(_folder, TlsCertificates.CaFile)), await http.GetStringAsync($"http://127.0.0.1:{httpPort}/tls/ca"));

            var client = new Dictionary<string, string>
            {
                ["security.protocol"] = "SASL_SSL",
                ["sasl.mechanisms"] = "SCRAM-SHA-256",
                ["sasl.username"] = "alice",
                ["sasl.password"] = "alice-secret",
                ["ssl.ca.location"] = Path.Combine(_folder, TlsCertificates.CaFile),
                ["ssl.certificate.location"] = Path.Combine(_folder, TlsCertificates.ClientCertificateFile),
                ["ssl.key.location"] = Path.Combine(_folder, TlsCertificates.ClientKeyFile),
            };
            // The second broker's proxy port is its own pick; the metadata must name two brokers, the first the bootstrap.
            List<int> ports;
            using (var admin = new AdminClientBuilder(KafkaRoundtrip.With(new AdminClientConfig { BootstrapServers = bootstrap }, client)).Build())
                ports = [.. admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers.Select(b => b.Port)];
            Assert.Equal(2, ports.Count);
            Assert.Contains(int.Parse(bootstrap.Split(':')[1]), ports);
            KafkaRoundtrip.Roundtrip(bootstrap, ports, client);
        }
        finally
        {
            if (!broker.HasExited) broker.Kill(entireProcessTree: true);
            await broker.WaitForExitAsync();
        }
        var logs = await brokerLog;
        output.WriteLine($"EmbeddedKafka:\n{logs[0]}\n{logs[1]}");
        Assert.Contains("security.protocol SASL_SSL (SCRAM-SHA-256; 1 user(s)), client certificate required", logs[0]);
        Assert.Contains($"clients trust {Path.Combine(_folder, TlsCertificates.CaFile)} (ssl.ca.location)", logs[0]);
        Assert.DoesNotContain("alice-secret", logs[0] + logs[1]);
    }

    [Theory]
    [InlineData("SASL_SSL", "", "EmbeddedKafka:Security:Users:<name>=<password>")]
    [InlineData("SASL_TLS", "", "EmbeddedKafka:Security:Protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")]
    [InlineData("SASL_PLAINTEXT", "GSSAPI", "EmbeddedKafka:Security:Mechanisms: 'GSSAPI' is not a mechanism the broker speaks")]
    public async Task EmbeddedKafka_refuses_a_security_setting_it_cannot_serve(string protocol, string mechanisms, string error)
    {
        var environment = new Dictionary<string, string> { ["EmbeddedKafka__Security__Protocol"] = protocol };
        if (mechanisms.Length > 0)
        {
            environment["EmbeddedKafka__Security__Mechanisms"] = mechanisms;
            environment["EmbeddedKafka__Security__Users__alice"] = "alice-secret";
        }
        var result = await WorkerProcess.RunAsync(WorkerProcess.StartInfo("EmbeddedKafka", environment), TimeSpan.FromSeconds(60));
        WorkerProcess.AssertConfigurationError(result, error);
    }
}
