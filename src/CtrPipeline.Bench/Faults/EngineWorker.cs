using CtrPipeline.Contracts;
using CtrPipeline.NativeEngine;
using CtrPipeline.SqlEngine;

namespace CtrPipeline.Bench.Faults;

/// <summary>
/// How one engine target runs as a worker process: its project, its consumer group and the environment variables the
/// AppHost would give it (ConnectionStrings__kafka, Pipeline__*, Engine__Id; for the SQL engine Sql__SqliteFile, or
/// ConnectionStrings__ctrdb with Sql__Schema for PostgreSQL). Every instance of one run shares the environment: a
/// second instance is the same engine started again, as a user scaling out would start it.
/// </summary>
public sealed record EngineWorker(string Name, string Engine, string Project, string GroupId, IReadOnlyDictionary<string, string> Environment,
    string? Postgres, SqlEngineOptions? Sql)
{
    /// <summary>The guarantee the engine declares; exactly-once engines must publish no duplicate final row.</summary>
    public bool ExactlyOnce { get; init; }

    public static EngineWorker For(EngineTarget target, PipelineSettings pipeline, string bootstrap, string catalogPath, string runFolder, string? postgres, string? guarantee)
    {
        var environment = new Dictionary<string, string>(pipeline.Environment(catalogPath)) { ["ConnectionStrings__kafka"] = bootstrap };
        switch (target.Name)
        {
            case Engines.NativeContinuous or Engines.NativeMicroBatch:
                environment["Engine__Id"] = target.Name;
                if (guarantee is not null) environment["Engine__Guarantee"] = guarantee;
                return new EngineWorker(target.Name, target.Engine, "NativeEngine.Worker", new EngineOptions { Id = target.Name }.GroupId, environment, null, null)
                {
                    ExactlyOnce = (guarantee ?? FaultSettings.NativeDefaultGuarantee) == FaultSettings.ExactlyOnce,
                };
            case EngineTarget.SqlSqlite:
                {
                    var sql = new SqlEngineOptions { SqliteFile = Path.Combine(runFolder, "sql-engine.db") };
                    environment["Sql__SqliteFile"] = sql.SqliteFile;
                    return new EngineWorker(target.Name, target.Engine, "SqlEngine.Worker", sql.GroupId, environment, null, sql);
                }
            case EngineTarget.SqlPostgres when postgres is not null:
                {
                    var sql = new SqlEngineOptions { Schema = $"faults_{Guid.NewGuid():N}"[..24] };
                    environment["ConnectionStrings__ctrdb"] = postgres;
                    environment["Sql__Schema"] = sql.Schema;
                    return new EngineWorker(target.Name, target.Engine, "SqlEngine.Worker", sql.GroupId, environment, postgres, sql);
                }
            default:
                throw new ConfigurationException($"The faults command cannot run {target.Name} as a worker process here{(target.SkipReason is null ? "" : $": {target.SkipReason}")}.");
        }
    }

    /// <summary>An empty database for the run (the SQLite file deleted, the PostgreSQL schema dropped).</summary>
    public Task ResetDatabaseAsync(CancellationToken cancel) =>
        Sql is null ? Task.CompletedTask : DatabaseTarget.From(Postgres, Sql.Validate()).ResetAsync(cancel);

    public ChildProcess Start(string instance, string logFile) => ChildProcess.Start(instance, Project, Environment, logFile);

}
