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
        var start = Worker(endpoint);
        if (setting.Split('=') is [var key, var value]) start.Environment[key] = value;

        var (exitCode, stdout, stderr) = await RunAsync(start);

        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
        Assert.Empty(stdout);
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
        var start = Worker("");
        foreach (var arg in new[] { "print-plan", "--Pipeline:WindowSize=00:01:00", "--Spark:KafkaBootstrapServers=kafka:9093" }) start.ArgumentList.Add(arg);

        var (exitCode, stdout, stderr) = await RunAsync(start);

        Assert.Equal(0, exitCode);
        Assert.Empty(stderr);
        var printed = JsonParser.Default.Parse<Command>(stdout);
        var options = new SparkOptions { KafkaBootstrapServers = "kafka:9093" };
        Assert.Equal(CtrQueryPlan.StartCommand(new PipelineSettings { WindowSize = TimeSpan.FromMinutes(1) }, options), printed);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(ProcessStartInfo start)
    {
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Limit);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// The worker from its own build output: this test project also references ASP.NET Core (for the in-process
    /// server), so the copy next to the tests would resolve the hosting assemblies from that framework instead.
    /// </summary>
    private static string WorkerAssembly()
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = testOutput.Parent!.Name;
        var path = Path.GetFullPath(Path.Combine(testOutput.FullName, "..", "..", "..", "..", "..", "src", "SparkDriver", "bin", configuration, testOutput.Name, "SparkDriver.dll"));
        return File.Exists(path) ? path : throw new FileNotFoundException("Build src/SparkDriver first (dotnet test builds it).", path);
    }

    private static ProcessStartInfo Worker(string endpoint) => new(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
    {
        ArgumentList = { "exec", WorkerAssembly() },
        RedirectStandardError = true,
        RedirectStandardOutput = true,
        Environment =
        {
            ["ConnectionStrings__spark-connect"] = endpoint,
            ["ConnectionStrings__kafka"] = "127.0.0.1:9092",
            ["Spark__StartupTimeout"] = "00:00:05",
        },
    };
}
