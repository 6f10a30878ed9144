using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

namespace CtrPipeline.AppHost;

/// <summary>
/// Where the SQL engine keeps its tables: a PostgreSQL database (its connection string, and the database resource to
/// wait for when the AppHost starts the server) or, without one, an SQLite file. <paramref name="Schema"/> is a
/// PostgreSQL schema other than the engine's default, <paramref name="Display"/> what the AppHost prints at start.
/// </summary>
public sealed record SqlDatabase(
    IResourceBuilder<IResourceWithConnectionString>? Connection,
    IResourceBuilder<IResource>? Server,
    string? SqliteFile,
    string? Schema,
    string Display);

/// <summary>
/// The database of the "sql" engine: PostgreSQL in a container in containers mode, an existing PostgreSQL named by
/// ConnectionStrings:ctrdb in any mode, else an SQLite file under runs/apphost.
/// <para>
/// A run never starts on another run's database. The engine's tables must not outlive the topics they were filled
/// from: a run that found a previous run's events and closed watermark would publish windows it never read, and an
/// engine before schema version 2 dropped every new event whose partition and offset an old row held. So the database
/// is new whenever the topics are: the container has no data volume; with the AppHost's own broker the SQLite file is
/// deleted when the AppHost starts and an existing PostgreSQL gets a schema of its own per start; with a topic prefix
/// (one benchmark run's fresh topics on a cluster) the file or schema is named from the prefix, and the benchmark removes
/// it after the run (<see cref="ForRun"/>). With an existing Kafka cluster and the default topics (their records and
/// committed offsets persist) the SQLite file and the default schema are kept.
/// </para>
/// </summary>
public static class SqlEngineDatabase
{
    public const string Server = "postgres";

    /// <summary>The database and its connection string (ConnectionStrings__ctrdb), as SqlEngine.Worker's SqlEngineOptions.ConnectionName names it.</summary>
    public const string Database = "ctrdb";

    public const string SqliteFileName = "ctr-sql.db";

    public static SqlDatabase AddSqlDatabase(this IDistributedApplicationBuilder builder, PipelineMode mode, KafkaBinding kafka, string? topicPrefix)
    {
        var freshBroker = kafka.Server is not null; // the AppHost's own broker; an existing cluster has none to wait for
        var (runFile, runSchema) = ForRun(builder.AppHostDirectory, topicPrefix);
        if (builder.Configuration.GetConnectionString(Database) is { Length: > 0 })
        {
            var schema = runSchema ?? (freshBroker ? $"ctr_{DateTime.UtcNow:yyyyMMdd_HHmmss}" : null);
            return new SqlDatabase(builder.AddConnectionString(Database), null, null, schema,
                $"an existing PostgreSQL (ConnectionStrings:{Database}), schema {schema ?? "ctr"}");
        }

        if (mode == PipelineMode.Containers)
        {
            // No data volume: the server starts empty with the Kafka container.
            var database = builder.AddPostgres(Server).AddDatabase(Database);
            return new SqlDatabase(database, database, null, null, $"PostgreSQL in the '{Server}' container, database {Database}");
        }

        var fresh = freshBroker || topicPrefix is not null;
        // On start, not while the model is built: building it (the app-model tests do) must not touch the file.
        if (fresh) builder.Eventing.Subscribe<BeforeStartEvent>((_, _) => DeleteSqlite(runFile));
        return new SqlDatabase(null, null, runFile, null, $"SQLite file {runFile}" + (fresh ? ", new for this start" : ""));
    }

    /// <summary>
    /// Where the SQL engine of the AppHost in <paramref name="appHostDirectory"/> keeps its tables for topics named with
    /// <paramref name="topicPrefix"/>: the SQLite file runs/apphost/&lt;prefix&gt;-sql.db, beside the run's topics &lt;prefix&gt;-events and so on, and, on PostgreSQL, the schema
    /// ctr_&lt;prefix&gt; (null: the engine's default schema). Without a prefix, runs/apphost/ctr-sql.db.
    /// </summary>
    public static (string SqliteFile, string? Schema) ForRun(string appHostDirectory, string? topicPrefix)
    {
        var folder = PipelineTopology.RunsFolder(appHostDirectory);
        if (topicPrefix is null) return (Path.Combine(folder, SqliteFileName), null);
        // A PostgreSQL identifier: lower case, at most 63 characters; a run's prefix ends in its unique part.
        var identifier = new string(topicPrefix.ToLowerInvariant().Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '_').ToArray());
        return (Path.Combine(folder, $"{topicPrefix}-sql.db"), "ctr_" + identifier[Math.Max(0, identifier.Length - 59)..]);
    }

    /// <summary>The "sql" engine: the SqlEngine.Worker project, wired to Kafka like the native engines, plus its database.</summary>
    public static IResourceBuilder<ProjectResource> AddSqlEngine(
        this IDistributedApplicationBuilder builder, SqlDatabase database, KafkaBinding kafka, PipelineParameters parameters)
    {
        var engine = builder.AddProject<Projects.SqlEngine_Worker>(Engines.Sql)
            .WithPipelineSettings(builder, parameters)
            .WithKafka(kafka);
        if (database.Connection is not null) engine.WithReference(database.Connection);
        if (database.Server is not null) engine.WaitFor(database.Server);
        if (database.SqliteFile is { } file) engine.WithEnvironment("Sql__SqliteFile", file);
        if (database.Schema is { } schema) engine.WithEnvironment("Sql__Schema", schema);
        return engine;
    }

    /// <summary>Deletes the SQLite file and its rollback journal (and WAL files, had a run used them), if present.</summary>
    private static Task DeleteSqlite(string file)
    {
        foreach (var path in new[] { file, file + "-journal", file + "-wal", file + "-shm" })
        {
            try
            {
                if (File.Exists(path)) File.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException(
                    $"Could not delete the SQL engine's previous database {path} ({e.Message}); is another AppHost still running? Delete it by hand and start again.", e);
            }
        }
        return Task.CompletedTask;
    }
}
