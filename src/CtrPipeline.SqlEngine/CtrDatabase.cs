using System.Data.Common;
using CtrPipeline.Contracts;

namespace CtrPipeline.SqlEngine;

/// <summary>One consumed event as the engine stores it: where it sat in Kafka, what it says, when Kafka stamped it.</summary>
public readonly record struct EventRow(int Partition, long Offset, long EventId, EventType Type, int AdId, int UserId, long EventTime, long KafkaTimestamp)
{
    public string TypeName => Type == EventType.Click ? "click" : "view";
}

/// <summary>One (window, campaign) row the aggregation query returned.</summary>
public readonly record struct WindowCount(long WindowStart, int CampaignId, long Views, long Clicks, long MaxKafkaTimestamp);

/// <summary>
/// The engine's tables and the SQL that runs against them, the same for PostgreSQL and SQLite except for the bulk
/// insert. Tables: campaigns (the static catalog, the join's other side), events (every accepted event, keyed by its
/// Kafka position so a replayed batch inserts nothing twice), engine_state (the watermark up to which windows were
/// published) and schema_version. Calls are synchronous: one engine thread owns the connection.
/// </summary>
public abstract class CtrDatabase(DbConnection connection, string tablePrefix) : IDisposable
{
    /// <summary>Schema versions, each a list of statements; {0} is the table prefix. Append, never edit.</summary>
    private static readonly string[][] Migrations =
    [
        [
            "CREATE TABLE {0}campaigns (ad_id integer PRIMARY KEY, campaign_id integer NOT NULL, campaign_name text NOT NULL, advertiser text NOT NULL)",
            """
            CREATE TABLE {0}events (
                partition_id integer NOT NULL, kafka_offset bigint NOT NULL, event_id bigint NOT NULL,
                event_type text NOT NULL CHECK (event_type IN ('view', 'click')), ad_id integer NOT NULL, user_id integer NOT NULL,
                event_time bigint NOT NULL, kafka_ts bigint NOT NULL,
                PRIMARY KEY (partition_id, kafka_offset))
            """,
            "CREATE INDEX events_by_event_time ON {0}events (event_time)",
            "CREATE TABLE {0}engine_state (id integer PRIMARY KEY CHECK (id = 1), closed_until bigint NOT NULL)",
            "INSERT INTO {0}engine_state (id, closed_until) VALUES (1, -9223372036854775808)",
        ],
    ];

    protected DbConnection Connection { get; } = connection;

    /// <summary>Schema-qualified table name: "ctr.events" on PostgreSQL, "events" on SQLite.</summary>
    protected string Table(string name) => tablePrefix + name;

    /// <summary>Which database and version: "PostgreSQL 15.18", "SQLite 3.53.4".</summary>
    public abstract string Product { get; }

    /// <summary>What and where, for logs and reports: "PostgreSQL 15.18 at 127.0.0.1:5432/ctrdb, schema ctr".</summary>
    public abstract string Description { get; }

    public static int SchemaVersion => Migrations.Length;

    /// <summary>Brings the schema to the newest version and replaces the campaign table with <paramref name="catalog"/>.</summary>
    public void Migrate(CampaignCatalog catalog)
    {
        using var transaction = Connection.BeginTransaction();
        BeforeMigration(transaction);
        Execute(transaction, $"CREATE TABLE IF NOT EXISTS {Table("schema_version")} (version integer NOT NULL)");
        var current = Convert.ToInt32(Scalar(transaction, $"SELECT COALESCE(MAX(version), 0) FROM {Table("schema_version")}"));
        if (current > Migrations.Length)
            throw new WorkerFailedException(
                $"The database ({Description}) has schema version {current}, newer than this engine's {Migrations.Length}; use a newer engine or another database.");
        for (var version = current + 1; version <= Migrations.Length; version++)
        {
            foreach (var statement in Migrations[version - 1]) Execute(transaction, string.Format(statement, tablePrefix));
            Execute(transaction, $"INSERT INTO {Table("schema_version")} (version) VALUES ({version})");
        }

        Execute(transaction, $"DELETE FROM {Table("campaigns")}");
        using var insert = Command(transaction,
            $"INSERT INTO {Table("campaigns")} (ad_id, campaign_id, campaign_name, advertiser) VALUES (@ad, @campaign, @name, @advertiser)");
        var (ad, campaign, name, advertiser) = (Parameter(insert, "ad"), Parameter(insert, "campaign"), Parameter(insert, "name"), Parameter(insert, "advertiser"));
        foreach (var row in catalog.Ads)
        {
            (ad.Value, campaign.Value, name.Value, advertiser.Value) = (row.AdId, row.CampaignId, row.CampaignName, row.Advertiser);
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    /// <summary>The event time up to which every window has been aggregated and published (long.MinValue at first).</summary>
    public long ClosedUntil()
    {
        using var transaction = Connection.BeginTransaction();
        return Convert.ToInt64(Scalar(transaction, $"SELECT closed_until FROM {Table("engine_state")} WHERE id = 1"));
    }

    /// <summary>Inserts the batch in one transaction; rows already there (same partition and offset) are left alone.</summary>
    public void Insert(IReadOnlyList<EventRow> rows)
    {
        if (rows.Count == 0) return;
        using var transaction = Connection.BeginTransaction();
        InsertRows(transaction, rows);
        transaction.Commit();
    }

    protected abstract void InsertRows(DbTransaction transaction, IReadOnlyList<EventRow> rows);

    /// <summary>Schema work that must precede the tables (PostgreSQL creates its schema).</summary>
    protected virtual void BeforeMigration(DbTransaction transaction) { }

    /// <summary>
    /// The CTR query: events with event time in [<paramref name="from"/>, <paramref name="to"/>) joined with the
    /// campaigns, counted per tumbling window (floor division, also for negative times) and campaign.
    /// </summary>
    public virtual List<WindowCount> Aggregate(long from, long to, long windowMs)
    {
        using var transaction = Connection.BeginTransaction();
        using var query = Command(transaction, $"""
            SELECT {WindowStart("e.event_time")} AS window_start,
                   c.campaign_id,
                   SUM(CASE WHEN e.event_type = 'view' THEN 1 ELSE 0 END) AS views,
                   SUM(CASE WHEN e.event_type = 'click' THEN 1 ELSE 0 END) AS clicks,
                   MAX(e.kafka_ts) AS max_kafka_ts
            FROM {Table("events")} e
            JOIN {Table("campaigns")} c ON c.ad_id = e.ad_id
            WHERE e.event_time >= @from AND e.event_time < @to
            GROUP BY 1, 2
            ORDER BY 1, 2
            """);
        SetRange(query, from, to, windowMs);
        return ReadCounts(query);
    }

    /// <summary>The start of the tumbling window of @w ms that holds <paramref name="eventTime"/>: floor division, also for negative times.</summary>
    protected static string WindowStart(string eventTime) => $"{eventTime} - (({eventTime} % @w) + @w) % @w";

    /// <summary>Sets the parameters @w, @from and @to of a window query.</summary>
    protected static void SetRange(DbCommand query, long from, long to, long windowMs)
    {
        Parameter(query, "w").Value = windowMs;
        Parameter(query, "from").Value = from;
        Parameter(query, "to").Value = to;
    }

    /// <summary>Reads the (window_start, campaign_id, views, clicks, max_kafka_ts) rows of a window query.</summary>
    protected static List<WindowCount> ReadCounts(DbCommand query)
    {
        var rows = new List<WindowCount>();
        using var reader = query.ExecuteReader();
        while (reader.Read())
            rows.Add(new WindowCount(reader.GetInt64(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
        return rows;
    }

    /// <summary>Whether the event at <paramref name="offset"/> of <paramref name="partition"/> is stored (a replay after a restart).</summary>
    public bool Contains(int partition, long offset)
    {
        using var transaction = Connection.BeginTransaction();
        using var query = Command(transaction, $"SELECT 1 FROM {Table("events")} WHERE partition_id = @p AND kafka_offset = @o");
        Parameter(query, "p").Value = partition;
        Parameter(query, "o").Value = offset;
        return query.ExecuteScalar() is not null;
    }

    public void SetClosedUntil(long closedUntil)
    {
        using var transaction = Connection.BeginTransaction();
        using var update = Command(transaction, $"UPDATE {Table("engine_state")} SET closed_until = @closed WHERE id = 1");
        Parameter(update, "closed").Value = closedUntil;
        update.ExecuteNonQuery();
        transaction.Commit();
    }

    /// <summary>Deletes the events older than <paramref name="eventTime"/> (windows long published); returns how many.</summary>
    public int DeleteEventsBefore(long eventTime)
    {
        using var transaction = Connection.BeginTransaction();
        using var delete = Command(transaction, $"DELETE FROM {Table("events")} WHERE event_time < @before");
        Parameter(delete, "before").Value = eventTime;
        var deleted = delete.ExecuteNonQuery();
        transaction.Commit();
        return deleted;
    }

    /// <summary>Events in the table: for tests and the benchmark's report.</summary>
    public long CountEvents()
    {
        using var transaction = Connection.BeginTransaction();
        return Convert.ToInt64(Scalar(transaction, $"SELECT COUNT(*) FROM {Table("events")}"));
    }

    protected DbCommand Command(DbTransaction transaction, string sql)
    {
        var command = Connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    protected static DbParameter Parameter(DbCommand command, string name)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        command.Parameters.Add(parameter);
        return parameter;
    }

    protected void Execute(DbTransaction transaction, string sql)
    {
        using var command = Command(transaction, sql);
        command.ExecuteNonQuery();
    }

    private object? Scalar(DbTransaction transaction, string sql)
    {
        using var command = Command(transaction, sql);
        return command.ExecuteScalar();
    }

    public void Dispose()
    {
        Connection.Dispose();
        GC.SuppressFinalize(this);
    }
}
