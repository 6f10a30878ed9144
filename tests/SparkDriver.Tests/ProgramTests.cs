using System.Diagnostics;
using CtrPipeline.Contracts;
using Google.Protobuf;
using SparkDriver.Connect;

namespace SparkDriver.Tests;

/// <summary>The SparkDriver process, started the way the AppHost starts it: configuration from the environment.</summary>
public sealed class ProgramTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("", "", "No Spark Connect endpoint: set ConnectionStrings:spark-connect")]
    [InlineData("spark:15002", "", "must be sc://host:port or http://host:port (got 'spark:15002')")]
    [InlineData("sc://localhost:15002", "Spark__OutputMode=complete", "Spark:OutputMode must be append or update (got 'complete')")]
    [InlineData("sc://localhost:15002", "Pipeline__TriggerInterval=00:00:00", "Pipeline:TriggerInterval must be positive")]
    public async Task Invalid_configuration_ends_with_one_clear_line_and_exit_code_2(string endpoint, string setting, string expected)
    {
        WorkerProcess.AssertConfigurationError(await RunAsync(Worker(endpoint, setting)), expected);
    }

    [Fact]
    public async Task A_plan_spark_rejects_ends_the_process_with_exit_code_1_and_sparks_message_in_its_log()
    {
        await using var spark = await RecordingSparkConnectServer.StartAsync(new RecordingSparkConnectServer.Script { RejectStart = true });

        var (exitCode, stdout, _) = await RunAsync(Worker(spark.Address.ToString()));

        Assert.Equal(1, exitCode);
        Assert.Contains(RecordingSparkConnectServer.UnresolvedColumn, stdout);
    }

    [Fact]
    public async Task Print_plan_prints_the_plan_of_the_configuration_as_json_without_contacting_anything()
    {
        var (exitCode, stdout, stderr) = await RunAsync(Worker("", "", "print-plan", "--Pipeline:WindowSize=00:01:00", "--Spark:KafkaBootstrapServers=kafka:9093"));

        Assert.Equal(0, exitCode);
        Assert.Empty(stderr);
        var printed = JsonParser.Default.Parse<Command>(stdout);
        var pipeline = new PipelineSettings { WindowSize = TimeSpan.FromMinutes(1) };
        var options = new SparkOptions { KafkaBootstrapServers = "kafka:9093" }
            .Resolve(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), pipeline, requireEndpoint: false);
        Assert.Equal(CtrQueryPlan.StartCommand(pipeline, options), printed);
    }

    [Fact]
    public async Task Print_plan_shows_the_kafka_client_settings_with_their_secrets_as_stars()
    {
        // The password from the environment, as the AppHost passes a secret parameter; the rest on the command line.
        var (exitCode, stdout, stderr) = await RunAsync(Worker("", "Kafka__Properties__sasl.password=n0t-shown", "print-plan",
            "--Spark:KafkaBootstrapServers=kafka:9093", "--Spark:KafkaFilesFolder=/opt/certs", "--Kafka:Properties:security.protocol=SASL_SSL",
            "--Kafka:Properties:sasl.mechanisms=SCRAM-SHA-512", "--Kafka:Properties:sasl.username=ctr", "--Kafka:Properties:ssl.ca.location=/home/me/ca.pem"));

        Assert.True(exitCode == 0, stderr);
        var printed = JsonParser.Default.Parse<Command>(stdout);
        Assert.Equal("***", printed.WriteStreamOperationStart.Options["kafka.sasl.jaas.config"]);
        Assert.Equal("/opt/certs/ca.pem", printed.WriteStreamOperationStart.Options["kafka.ssl.truststore.location"]);
        Assert.Equal(2, stdout.Split("\"kafka.sasl.jaas.config\": \"***\"").Length - 1);
        Assert.DoesNotContain("n0t-shown", stdout);
        Assert.DoesNotContain("ScramLoginModule", stdout);
    }

    /// <summary>The worker with its endpoint, Kafka and a short startup timeout in the environment, plus one "Key=value" setting.</summary>
    private static ProcessStartInfo Worker(string endpoint, string setting = "", params string[] arguments)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__spark-connect"] = endpoint,
            ["ConnectionStrings__kafka"] = "127.0.0.1:9092",
            ["Spark__StartupTimeout"] = "00:00:05",
        };
        if (setting.Split('=') is [var key, var value]) environment[key] = value;
        return WorkerProcess.StartInfo("SparkDriver", environment, arguments);
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(ProcessStartInfo start) => WorkerProcess.RunAsync(start, Limit);
}
