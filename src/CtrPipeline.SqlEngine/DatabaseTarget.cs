using CtrPipeline.Contracts;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CtrPipeline.SqlEngine;

/// <summary>
/// Which database the engine uses, decided and checked from configuration before anything starts: PostgreSQL when a
/// connection string is given, else the SQLite file. <see cref="OpenAsync"/> connects, waiting for a server that is
/// still starting, and migrates.
/// </summary>
public sealed class DatabaseTarget
{
    private readonly NpgsqlConnectionStringBuilder? _postgres;
    private readonly SqlEngineOptions _options;

    private DatabaseTarget(NpgsqlConnectionStringBuilder? postgres, SqlEngineOptions options)
    {
        _postgres = postgres;
        _options = options;
    }

    public bool IsPostgres => _postgres is not null;

    /// <summary>"PostgreSQL at host:port/database" or "SQLite file path", before connecting.</summary>
    public string Display => _postgres is { } pg ? $"PostgreSQL at {Server(pg)}, schema {_options.Schema}" : $"SQLite file {SqlitePath}";

    private string SqlitePath => Path.GetFullPath(_options.SqliteFile);

    /// <summary>Throws <see cref="ConfigurationException"/> for a connection string PostgreSQL's client cannot read, naming <paramref name="setting"/>.</summary>
    public static DatabaseTarget From(string? connectionString, SqlEngineOptions options, string setting = $"ConnectionStrings:{SqlEngineOptions.ConnectionName}")
    {
        if (string.IsNullOrWhiteSpace(connectionString)) return new DatabaseTarget(null, options);
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new ConfigurationException(
                $"{setting} is not a PostgreSQL connection string ({e.Message}). " +
                "Expected e.g. Host=127.0.0.1;Port=5432;Username=postgres;Password=...;Database=ctr, or leave it unset to use the SQLite file.");
        }
        if (string.IsNullOrWhiteSpace(builder.Host))
            throw new ConfigurationException($"{setting} names no Host.");
        return new DatabaseTarget(builder, options);
    }

    /// <summary>
    /// Connects, migrates and binds the database to the events <paramref name="topic"/>; a server that refuses (bad
    /// password, no such database) or never answers is a <see cref="WorkerFailedException"/>.
    /// </summary>
    public async Task<CtrDatabase> OpenAsync(CampaignCatalog catalog, string topic, ILogger logger, CancellationToken cancel)
    {
        CtrDatabase database = _postgres is { } pg ? await OpenPostgresAsync(pg, logger, cancel) : OpenSqlite();
        try
        {
            database.Migrate(catalog, topic);
            return database;
        }
        catch (System.Data.Common.DbException e)
        {
            database.Dispose();
            throw new WorkerFailedException($"Could not create or migrate the engine's tables in {database.Description}: {e.Message}");
        }
    }

    /// <summary>
    /// Starts from nothing: deletes the SQLite file, or drops the PostgreSQL schema with everything in it. For runs
    /// that must not inherit a previous run's events and closed watermark (the benchmark, a fresh embedded broker).
    /// </summary>
    public async Task ResetAsync(CancellationToken cancel)
    {
        if (_postgres is null)
        {
            File.Delete(SqlitePath);
            File.Delete(SqlitePath + "-journal");
            return;
        }
        try
        {
            await using var connection = new NpgsqlConnection(_postgres.ConnectionString);
            await connection.OpenAsync(cancel);
            await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {_options.Schema} CASCADE", connection);
            await drop.ExecuteNonQueryAsync(cancel);
        }
        catch (NpgsqlException e)
        {
            throw new WorkerFailedException($"Could not drop the schema {_options.Schema} on PostgreSQL at {Server(_postgres)}: {e.Message}");
        }
    }

    private async Task<CtrDatabase> OpenPostgresAsync(NpgsqlConnectionStringBuilder builder, ILogger logger, CancellationToken cancel)
    {
        var server = Server(builder);
        try
        {
            var connection = await logger.UntilAvailableAsync($"PostgreSQL at {server}", async stop =>
            {
                var c = new NpgsqlConnection(builder.ConnectionString);
                try
                {
                    await c.OpenAsync(stop);
                    return c;
                }
                catch
                {
                    await c.DisposeAsync();
                    throw;
                }
            }, e => e is NpgsqlException { IsTransient: true }, _options.StartupTimeout, cancel);
            return new PostgresCtrDatabase(connection, _options.Schema, server);
        }
        catch (PostgresException e)
        {
            throw new WorkerFailedException($"PostgreSQL at {server} refused the SQL engine: {e.MessageText} (SQLSTATE {e.SqlState}). Check ConnectionStrings:{SqlEngineOptions.ConnectionName}.");
        }
        catch (NpgsqlException e)
        {
            throw new WorkerFailedException($"PostgreSQL at {server} did not answer within {_options.StartupTimeout.TotalSeconds:0} s: {e.Message}. Is the server running and is ConnectionStrings:{SqlEngineOptions.ConnectionName} right?");
        }
    }

    private SqliteCtrDatabase OpenSqlite()
    {
        var path = SqlitePath;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            connection.Open();
            using (var cache = connection.CreateCommand())
            {
                // A 256 MiB page cache, not the 2 MiB default: the window query reads the pages of the window it closes
                // (about 140 MB at 120,000 events/s), still cached from their insert. Memory, not durability: the
                // journal and synchronous=FULL stay SQLite's defaults.
                cache.CommandText = "PRAGMA cache_size = -262144";
                cache.ExecuteNonQuery();
            }
            return new SqliteCtrDatabase(connection, path);
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new WorkerFailedException($"Could not open the SQLite file {path} (Sql:SqliteFile): {e.Message}");
        }
    }

    private static string Server(NpgsqlConnectionStringBuilder b) => $"{b.Host}:{b.Port}/{b.Database ?? b.Username}";
}
