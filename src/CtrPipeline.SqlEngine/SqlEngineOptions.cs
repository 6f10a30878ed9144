using CtrPipeline.Contracts;
using static CtrPipeline.Contracts.ConfigurationException;

namespace CtrPipeline.SqlEngine;

/// <summary>
/// The "Sql" configuration section (environment variables Sql__BatchSize and so on). Which database: the connection
/// string <see cref="ConnectionName"/> (ConnectionStrings__ctrdb) names a PostgreSQL server; without it the engine
/// keeps its tables in the SQLite file <see cref="SqliteFile"/>.
/// </summary>
public sealed class SqlEngineOptions
{
    public const string Section = "Sql";

    /// <summary>The connection string that selects PostgreSQL, as Aspire's database reference names it.</summary>
    public const string ConnectionName = "ctrdb";

    /// <summary>Most events written in one insert transaction.</summary>
    public int BatchSize { get; set; } = 20_000;

    /// <summary>Longest a consumed event waits for its batch to be written.</summary>
    public TimeSpan BatchInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The embedded database when no PostgreSQL connection string is given.</summary>
    public string SqliteFile { get; set; } = "ctr-sql.db";

    /// <summary>PostgreSQL schema that holds the engine's tables (one engine instance per schema).</summary>
    public string Schema { get; set; } = "ctr";

    /// <summary>How long to wait for PostgreSQL to answer at start before giving up.</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Events of closed windows are deleted once they are this much older than the closed watermark.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long an instance that does not hold every partition waits before it concludes another shares its group (and stops).</summary>
    public TimeSpan PartialAssignmentTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The consumer group: ctr-sql by default; the benchmark gives each run on a shared Kafka cluster a group of its own.</summary>
    public string GroupId
    {
        get => string.IsNullOrEmpty(_groupId) ? Engines.DefaultGroupId(Engines.Sql) : _groupId;
        set => _groupId = value;
    }

    private string? _groupId;

    /// <summary>Throws <see cref="ConfigurationException"/> naming the first bad setting.</summary>
    public SqlEngineOptions Validate()
    {
        Require(BatchSize is >= 1 and <= 1_000_000, $"Sql:BatchSize must be between 1 and 1000000 (got {BatchSize}).");
        Require(BatchInterval > TimeSpan.Zero, $"Sql:BatchInterval must be positive (got {BatchInterval}).");
        Require(!string.IsNullOrWhiteSpace(SqliteFile), "Sql:SqliteFile must name a file.");
        Require(System.Text.RegularExpressions.Regex.IsMatch(Schema, "^[a-z_][a-z0-9_]{0,62}$"),
            $"Sql:Schema must be a lower-case SQL identifier (letters, digits, underscores; got '{Schema}').");
        Require(StartupTimeout > TimeSpan.Zero, $"Sql:StartupTimeout must be positive (got {StartupTimeout}).");
        Require(PartialAssignmentTimeout > TimeSpan.Zero, $"Sql:PartialAssignmentTimeout must be positive (got {PartialAssignmentTimeout}).");
        Require(Retention >= TimeSpan.Zero, $"Sql:Retention must not be negative (got {Retention}).");
        return this;
    }
}
