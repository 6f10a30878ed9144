using System.Diagnostics;

namespace FlinkGateway.Tests;

/// <summary>The FlinkGateway process, started the way the AppHost starts it: configuration from the environment.</summary>
public sealed class ProgramTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("", "", "No Flink SQL Gateway: set ConnectionStrings:flink-gateway")]
    [InlineData("localhost:8083", "", "must be an http(s) URL (got 'localhost:8083')")]
    [InlineData("http://127.0.0.1:9", "Flink__Parallelism=-1", "Flink:Parallelism must be between 0")]
    [InlineData("http://127.0.0.1:9", "Flink__CheckpointInterval=00:00:00.1", "Flink:CheckpointInterval must be at least 1 s")]
    [InlineData("http://127.0.0.1:9", "Pipeline__WindowSize=00:00:00", "Pipeline:WindowSize must be positive")]
    [InlineData("http://127.0.0.1:9", "Flink__DeliveryGuarantee=exactly_once", "Flink:DeliveryGuarantee must be at-least-once or exactly-once (got 'exactly_once')")]
    [InlineData("http://127.0.0.1:9", "Pipeline__MaxEventTimeSkew=00:00:00", "Pipeline:MaxEventTimeSkew must be positive")]
    public async Task Invalid_configuration_ends_with_one_clear_line_and_exit_code_2(string gateway, string setting, string expected)
    {
        WorkerProcess.AssertConfigurationError(await RunAsync(Worker(gateway, setting)), expected);
    }

    [Fact]
    public async Task Print_sql_prints_the_statements_of_the_configuration_without_contacting_anything()
    {
        var (exitCode, stdout, stderr) = await RunAsync(Worker("", "", "print-sql", "--Pipeline:WindowSize=00:01:00", "--Flink:KafkaBootstrapServers=kafka:9093"));

        Assert.Equal(0, exitCode);
        Assert.Empty(stderr);
        var expected = FlinkSqlJob.Statements(new CtrPipeline.Contracts.PipelineSettings { WindowSize = TimeSpan.FromMinutes(1) },
            new FlinkOptions { KafkaBootstrapServers = "kafka:9093" }.Resolve(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), new CtrPipeline.Contracts.PipelineSettings(), requireGateway: false),
            CtrPipeline.Contracts.CampaignCatalog.Load(null));
        Assert.Equal(string.Join(";" + Environment.NewLine + Environment.NewLine, expected) + ";", stdout.TrimEnd());
        Assert.Contains("INTERVAL '60' SECOND", stdout);
    }

    [Fact]
    public async Task Print_sql_shows_the_kafka_client_settings_with_their_secrets_as_stars()
    {
        // The password from the environment, as the AppHost passes a secret parameter; the rest on the command line.
        var (exitCode, stdout, stderr) = await RunAsync(Worker("", "Kafka__Properties__sasl.password=n0t-shown", "print-sql",
            "--Flink:KafkaBootstrapServers=kafka:9093", "--Flink:KafkaFilesFolder=/opt/certs", "--Kafka:Properties:security.protocol=SASL_SSL",
            "--Kafka:Properties:sasl.mechanisms=SCRAM-SHA-512", "--Kafka:Properties:sasl.username=ctr", "--Kafka:Properties:ssl.ca.location=/home/me/ca.pem"));

        Assert.True(exitCode == 0, stderr);
        Assert.Equal(3, stdout.Split("'properties.sasl.jaas.config' = '***',").Length - 1);
        Assert.Equal(3, stdout.Split("'properties.ssl.truststore.location' = '/opt/certs/ca.pem',").Length - 1);
        Assert.DoesNotContain("n0t-shown", stdout);
        Assert.DoesNotContain("ScramLoginModule", stdout);
    }

    [Fact]
    public async Task A_kafka_client_property_flink_cannot_be_given_ends_with_one_clear_line_and_exit_code_2()
    {
        WorkerProcess.AssertConfigurationError(await RunAsync(Worker("http://127.0.0.1:9", "Kafka__Properties__ssl.crl.location=/crl.pem")),
            "Kafka:Properties: the Kafka client property ssl.crl.location cannot be given to Flink or Spark");
    }

    [Fact]
    public async Task A_statement_flink_rejects_ends_the_process_with_exit_code_1_and_flinks_message_in_its_log()
    {
        await using var flink = await DocumentedFlinkRestServer.StartAsync(DocumentedFlinkRestServer.Configure(failStatementsContaining: "CREATE TEMPORARY TABLE `ctr_results`"));

        var (exitCode, stdout, _) = await RunAsync(Worker(flink.Address.ToString()));
        output.WriteLine(stdout);

        Assert.Equal(1, exitCode);
        Assert.Contains("Flink rejected a statement: ValidationException: Could not find any factory for identifier 'kafka'", stdout);
        Assert.Contains("CREATE TEMPORARY TABLE `ctr_results` (", stdout);
        Assert.DoesNotContain("FetchResultsHandler.java", stdout);
        Assert.Single(flink.ClosedSessions);
    }

    /// <summary>The worker with its endpoint, Kafka and a short startup timeout in the environment, plus one "Key=value" setting.</summary>
    private static ProcessStartInfo Worker(string endpoint, string setting = "", params string[] arguments)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__flink-gateway"] = endpoint,
            ["ConnectionStrings__kafka"] = "127.0.0.1:9092",
            ["Flink__StartupTimeout"] = "00:00:05",
            ["Flink__SavepointStore"] = Path.Combine(Path.GetTempPath(), "ctr-flink-tests", Guid.NewGuid().ToString("N")),
        };
        if (setting.Split('=') is [var key, var value]) environment[key] = value;
        return WorkerProcess.StartInfo("FlinkGateway", environment, arguments);
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(ProcessStartInfo start) => WorkerProcess.RunAsync(start, Limit);
}
