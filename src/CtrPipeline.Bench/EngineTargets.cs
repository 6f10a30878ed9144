using CtrPipeline.Contracts;
using CtrPipeline.Streaming;
using Microsoft.Extensions.Logging;
using CtrPipeline.NativeEngine;
using CtrPipeline.SqlEngine;

namespace CtrPipeline.Bench;

/// <summary>
/// What a target's runner is built from: the run's broker, settings and a folder for its files. On a shared Kafka
/// cluster <see cref="Scope"/> prefixes the run's consumer groups and state topics (see <see cref="RunTopics"/>).
/// </summary>
public sealed record TargetContext(KafkaConnection Kafka, PipelineSettings Pipeline, CampaignCatalog Catalog, string RunId, string WorkFolder, ILoggerFactory Logs,
    string? Scope = null)
{
    public string Scoped(string name) => TopicNames.Scoped(Scope, name);
}

/// <summary>
/// One thing the benchmark can measure: an engine on a given backend. <see cref="Engine"/> is the id the engine writes
/// into its rows (sql for both SQL targets); <see cref="Name"/> is what reports show. A target this mode cannot run has
/// a <see cref="SkipReason"/> instead of a way to start it. <see cref="Finish"/>(run id, work folder) removes what a run
/// left behind (the SQL targets' database file or schema).
/// </summary>
public sealed record EngineTarget(string Name, string Engine, string Description, string? SkipReason, Func<TargetContext, IEngineRunner>? Start,
    Func<string, string, Task>? Finish = null)
{
    /// <summary>What the AppHost needs besides the engine's id to run it as a service (--host services): sql-postgres's database.</summary>
    public IReadOnlyList<string> ServiceArguments { get; init; } = [];

    /// <summary>The PostgreSQL server of sql-postgres (a connection string); null for every other target.</summary>
    public string? Postgres { get; init; }

    public const string SqlSqlite = "sql-sqlite";
    public const string SqlPostgres = "sql-postgres";

    /// <summary>Every target, in report order; the PostgreSQL one needs <paramref name="postgres"/>, a connection string.</summary>
    public static IReadOnlyList<EngineTarget> All(string? postgres)
    {
        if (postgres is not null) DatabaseTarget.From(postgres, new SqlEngineOptions(), "--postgres"); // a bad connection string fails now, not at its run
        return Targets(postgres);
    }

    private static IReadOnlyList<EngineTarget> Targets(string? postgres) =>
    [
        Native(Engines.NativeContinuous, "native .NET engine, per-record (Flink-like)"),
        Native(Engines.NativeMicroBatch, "native .NET engine, 1 s micro-batches (Spark-like)"),
        new(SqlSqlite, Engines.Sql, "legacy SQL: batches into an SQLite file, scheduled SQL aggregation", null,
            c => Sql(c, null, SqliteIn(c.RunId, c.WorkFolder)), (run, folder) => Reset(null, SqliteIn(run, folder))),
        postgres is null
            ? new(SqlPostgres, Engines.Sql, "legacy SQL on PostgreSQL",
                "no PostgreSQL server given: pass --postgres <connection string> or set CTR_POSTGRES", null)
            : new(SqlPostgres, Engines.Sql, "legacy SQL: batches into PostgreSQL, scheduled SQL aggregation", null,
                c => Sql(c, postgres, SchemaOf(c.RunId)), (run, _) => Reset(postgres, SchemaOf(run)))
            {
                ServiceArguments = [$"--ConnectionStrings:ctrdb={postgres}"],
                Postgres = postgres,
            },
        new(Engines.Flink, Engines.Flink, "Apache Flink SQL through its SQL Gateway", "runs on a Flink cluster, not in this process", null),
        new(Engines.Spark, Engines.Spark, "Apache Spark Structured Streaming over Spark Connect", "runs on a Spark Connect server, not in this process", null),
    ];

    /// <summary>Whether this host can run the target, and if not, why (<see cref="SkipReason"/> is about the in-process host).</summary>
    public string? SkipReasonOn(Hosts.EngineHost host, string mode, IReadOnlyDictionary<string, string> connections) =>
        (host, Clustered: Engine is Engines.Flink or Engines.Spark) switch
        {
            (Hosts.EngineHost.InProcess, true) => $"{SkipReason}: run it as a service in containers mode (--host services --mode containers)",
            (_, true) => mode == "containers" || connections.ContainsKey(CtrPipeline.AppHost.PipelineParameters.ClusterConnection(Engine)) ? null
                : $"needs its cluster: containers mode (a container runtime; {CtrPipeline.AppHost.ContainerRuntime.Name} does not run here), " +
                  $"or --connection-string {CtrPipeline.AppHost.PipelineParameters.ClusterConnection(Engine)}=... naming an existing one",
            _ => SkipReason, // sql-postgres without a PostgreSQL server, whatever the host
        };

    /// <summary>"all", or target names separated by commas; "sql" means sql-sqlite.</summary>
    public static IReadOnlyList<EngineTarget> Parse(string text, string? postgres)
    {
        var all = All(postgres);
        if (text.Trim() == "all") return all;
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(n => n == Engines.Sql ? SqlSqlite : n).ToList();
        ConfigurationException.Require(names.Count > 0, $"No engine given. Use 'all' or some of: {string.Join(", ", all.Select(t => t.Name))}.");
        ConfigurationException.Require(names.Distinct().Count() == names.Count, $"An engine is listed twice in '{text}'.");
        return names.Select(n => all.FirstOrDefault(t => t.Name == n)
            ?? throw new ConfigurationException($"Unknown engine '{n}'. Known here: {string.Join(", ", all.Select(t => t.Name))}.")).ToList();
    }

    private static EngineTarget Native(string id, string description) => new(id, id, description, null, c =>
    {
        var options = new EngineOptions { Id = id };
        options.GroupId = c.Scoped(options.GroupId);
        options.StateTopic = c.Scoped(options.StateTopic);
        return new NativeEngineRunner(options, c.Pipeline, c.Catalog, c.Kafka, c.Logs.CreateLogger<NativeEngineRunner>());
    });

    /// <summary>A fresh database per run: a new SQLite file, or the run's own PostgreSQL schema dropped first.</summary>
    private static SqlEngineRunner Sql(TargetContext c, string? postgres, SqlEngineOptions options)
    {
        Reset(postgres, options).GetAwaiter().GetResult();
        options.GroupId = c.Scoped(options.GroupId);
        return new SqlEngineRunner(options, DatabaseTarget.From(postgres, options), c.Pipeline, c.Catalog, c.Kafka, c.Logs.CreateLogger<SqlEngineRunner>());
    }

    private static Task Reset(string? postgres, SqlEngineOptions options) =>
        DatabaseTarget.From(postgres, options.Validate()).ResetAsync(CancellationToken.None);

    private static SqlEngineOptions SqliteIn(string runId, string folder) => new() { SqliteFile = Path.Combine(folder, $"{runId}.db") };

    private static SqlEngineOptions SchemaOf(string runId)
    {
        var id = new string(runId.ToLowerInvariant().Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '_').ToArray());
        return new SqlEngineOptions { Schema = "bench_" + id[..Math.Min(id.Length, 50)] };
    }
}
