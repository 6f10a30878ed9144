using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using CtrPipeline.SqlEngine;

namespace SqlEngine.Worker.Tests;

/// <summary>Which database configuration selects, and the messages a user gets when it is wrong.</summary>
public sealed class DatabaseTargetTests
{
    private static readonly CampaignCatalog Catalog = CampaignCatalog.Generate(2, 2);

    [Fact]
    public void Without_a_connection_string_the_engine_uses_the_sqlite_file()
    {
        var target = DatabaseTarget.From(null, new SqlEngineOptions { SqliteFile = "data/x.db" });
        Assert.False(target.IsPostgres);
        Assert.Equal($"SQLite file {Path.GetFullPath("data/x.db")}", target.Display);
    }

    [Theory]
    [InlineData("Hots=localhost;Port=5432", "hots")]
    [InlineData("Host=localhost;Port=many", "port")]
    [InlineData("Username=postgres", "names no Host")]
    public void A_connection_string_postgres_cannot_read_is_a_configuration_error(string connectionString, string named)
    {
        var error = Assert.Throws<ConfigurationException>(() => DatabaseTarget.From(connectionString, new SqlEngineOptions()));
        Assert.Contains("ConnectionStrings:ctrdb", error.Message);
        Assert.Contains(named, error.Message);
    }

    [Theory]
    [InlineData("Bad-Schema")]
    [InlineData("drop table x")]
    public void A_schema_that_is_not_a_plain_identifier_is_a_configuration_error(string schema)
    {
        var error = Assert.Throws<ConfigurationException>(() => new SqlEngineOptions { Schema = schema }.Validate());
        Assert.Contains("Sql:Schema", error.Message);
    }

    [Fact]
    public async Task A_server_that_never_answers_fails_after_the_startup_timeout_with_the_address()
    {
        var target = DatabaseTarget.From("Host=127.0.0.1;Port=1;Username=postgres;Timeout=1", new SqlEngineOptions { StartupTimeout = TimeSpan.FromSeconds(2) });
        var error = await Assert.ThrowsAsync<WorkerFailedException>(() => target.OpenAsync(Catalog, "events", NullLogger.Instance, CancellationToken.None));
        Assert.Contains("PostgreSQL at 127.0.0.1:1/postgres did not answer within 2 s", error.Message);
    }

    [PostgresFact]
    public async Task A_wrong_password_is_refused_at_once_with_the_servers_reason()
    {
        var wrong = new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionString) { Password = "not-the-password", Host = "127.0.0.1" };
        var target = DatabaseTarget.From(wrong.ConnectionString, new SqlEngineOptions { StartupTimeout = TimeSpan.FromSeconds(30) });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<WorkerFailedException>(() => target.OpenAsync(Catalog, "events", NullLogger.Instance, CancellationToken.None));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "an authentication failure is not worth waiting for");
        Assert.Contains("refused the SQL engine", error.Message);
        Assert.Contains("28P01", error.Message); // invalid_password
    }

    [PostgresFact]
    public async Task A_database_that_does_not_exist_is_named_in_the_error()
    {
        var missing = new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionString) { Database = "no_such_database_here" };
        var target = DatabaseTarget.From(missing.ConnectionString, new SqlEngineOptions());
        var error = await Assert.ThrowsAsync<WorkerFailedException>(() => target.OpenAsync(Catalog, "events", NullLogger.Instance, CancellationToken.None));
        Assert.Contains("no_such_database_here", error.Message);
        Assert.Contains("3D000", error.Message); // invalid_catalog_name
    }
}
