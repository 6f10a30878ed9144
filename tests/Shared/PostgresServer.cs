namespace CtrPipeline.Testing;

/// <summary>
/// The real PostgreSQL server the SQL tests run against, named by the CTR_TEST_POSTGRES connection string that
/// .ci/run sets after installing and starting one. Each test gets a schema of its own (<see cref="NewSchema"/>).
/// </summary>
public static class PostgresServer
{
    public const string Variable = "CTR_TEST_POSTGRES";

    public static string? ConnectionString => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } s ? s : null;

    public static string MissingReason =>
        $"no PostgreSQL server: set {Variable} to a connection string (.ci/run installs Debian's postgresql, starts it on 127.0.0.1 and sets it)";

    /// <summary>A fresh schema name for one test.</summary>
    public static string NewSchema() => $"test_{Guid.NewGuid():N}"[..20];
}

/// <summary>A fact that needs the PostgreSQL server; skipped with the reason when none is configured.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresServer.ConnectionString is null) Skip = PostgresServer.MissingReason;
    }
}
