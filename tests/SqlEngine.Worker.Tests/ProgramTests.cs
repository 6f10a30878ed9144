using System.Diagnostics;

namespace SqlEngine.Worker.Tests;

/// <summary>The SqlEngine.Worker process, started the way the AppHost starts it: configuration from the environment.</summary>
public sealed class ProgramTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("Hots=localhost", "", "ConnectionStrings:ctrdb is not a PostgreSQL connection string")]
    [InlineData("", "Sql__BatchSize=0", "Sql:BatchSize must be between 1")]
    [InlineData("", "Sql__Schema=Drop Table", "Sql:Schema must be a lower-case SQL identifier")]
    [InlineData("", "Pipeline__WindowSize=00:00:00", "Pipeline:WindowSize must be positive")]
    public async Task Invalid_configuration_ends_with_one_clear_line_and_exit_code_2(string connectionString, string setting, string expected)
    {
        WorkerProcess.AssertConfigurationError(await WorkerProcess.RunAsync(Worker(connectionString, setting), Limit), expected);
    }

    [Fact]
    public async Task A_postgres_server_that_never_answers_ends_the_process_with_exit_code_1_and_the_reason()
    {
        var (exitCode, stdout, _) = await WorkerProcess.RunAsync(Worker("Host=127.0.0.1;Port=1;Username=postgres;Timeout=1", "Sql__StartupTimeout=00:00:02"), Limit);

        Assert.Equal(1, exitCode);
        Assert.Contains("PostgreSQL at 127.0.0.1:1/postgres did not answer within 2 s", stdout);
        Assert.DoesNotContain("   at ", stdout); // one line, no stack trace
    }

    private static ProcessStartInfo Worker(string connectionString, string setting)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__ctrdb"] = connectionString,
            ["ConnectionStrings__kafka"] = "127.0.0.1:9",
            ["Sql__SqliteFile"] = Path.Combine(Path.GetTempPath(), $"ctr-sql-{Guid.NewGuid():N}.db"),
        };
        if (setting.Split('=', 2) is [var key, var value]) environment[key] = value;
        return WorkerProcess.StartInfo("SqlEngine.Worker", environment);
    }
}
