using CtrPipeline.SqlEngine;

namespace SqlEngine.Worker.Tests;

/// <summary>Where one test keeps the engine's tables: a fresh SQLite file, or a fresh schema on the PostgreSQL server.</summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ctr-sql-test-").FullName;

    private TestDatabase(bool postgres)
    {
        IsPostgres = postgres;
        Options = new SqlEngineOptions
        {
            SqliteFile = Path.Combine(_folder, "ctr-sql.db"),
            Schema = postgres ? PostgresServer.NewSchema() : "ctr",
            BatchInterval = TimeSpan.FromMilliseconds(50),
            StartupTimeout = TimeSpan.FromSeconds(10),
        };
    }

    public static TestDatabase Sqlite() => new(postgres: false);

    public static TestDatabase Postgres() => new(postgres: true);

    public bool IsPostgres { get; }

    public SqlEngineOptions Options { get; }

    public DatabaseTarget Target => DatabaseTarget.From(IsPostgres ? PostgresServer.ConnectionString : null, Options);

    public async ValueTask DisposeAsync()
    {
        await Target.ResetAsync(CancellationToken.None); // drops the schema (PostgreSQL) or deletes the file
        Directory.Delete(_folder, recursive: true);
    }
}
