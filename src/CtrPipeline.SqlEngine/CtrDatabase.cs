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
/// insert. Tables: campaigns (the static catalog, the join's other side), topics (each events topic the database has
/// stored, with its number and the watermark up to which its windows were published), events (every accepted event,
/// keyed by its Kafka position, topic included, so a replayed batch inserts nothing twice and another topic's
/// partitions and offsets never collide with it) and schema_version. An instance is bound to one topic
/// (<see cref="Migrate"/>): it stores, counts and publishes that topic's events only. Calls are synchronous: one engine
/// thread owns the connection.
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
        [
            // Version 1 keyed events by (partition, offset) alone: a run on new topics, whose offsets start at 0 again,
            // had its events dropped at insert as replays of the old rows (ON CONFLICT DO NOTHING), silently. The topic
            // is a small number (its name in every row would double the key), and the closed watermark is per topic.
            "CREATE TABLE {0}topics (topic_id integer PRIMARY KEY, topic text NOT NULL UNIQUE, closed_until bigint NOT NULL)",
            // What version 1 stored has no topic name: topic 0, named '' until the first engine to open the database
            // adopts it (an engine upgraded in place goes on with its own events and watermark).
            "INSERT INTO {0}topics (topic_id, topic, closed_until) SELECT 0, '', closed_until FROM {0}engine_state",
            """
            CREATE TABLE {0}events_v2 (
                topic_id integer NOT NULL, partition_id integer NOT NULL, kafka_offset bigint NOT NULL, event_id bigint NOT NULL,
                event_type text NOT NULL CHECK (event_type IN ('view', 'click')), ad_id integer NOT NULL, user_id integer NOT NULL,
                event_time bigint NOT NULL, kafka_ts bigint NOT NULL,
                PRIMARY KEY (topic_id, partition_id, kafka_offset))
            """,
            """
            INSERT INTO {0}events_v2 (topic_id, partition_id, kafka_offset, event_id, event_type, ad_id, user_id, event_time, kafka_ts)
            SELECT 0, partition_id, kafka_offset, event_id, event_type, ad_id, user_id, event_time, kafka_ts FROM {0}events
            """,
            "DROP TABLE {0}events",
            "ALTER TABLE {0}events_v2 RENAME TO events",
            "CREATE INDEX events_by_event_time ON {0}events (event_time)",
            "DROP TABLE {0}engine_state",
        ],
    ];

    /// <summary>The number of the topic this instance stores (<see cref="Migrate"/>).</summary>
    protected int TopicId { get; private set; } = -1;

    protected DbConnection Connection { get; } = connection;

    /// <summary>Schema-qualified table name: "ctr.events" on PostgreSQL, "events" on SQLite.</summary>
    protected string Table(string name) => tablePrefix + name;

    /// <summary>Which database and version: "PostgreSQL 15.18", "SQLite 3.53.4".</summary>
    public abstract string Product { get; }

    /// <summary>What and where, for logs and reports: "PostgreSQL 15.18 at 127.0.0.1:5432/ctrdb, schema ctr".</summary>
    public abstract string Description { get; }

    public static int SchemaVersion => Migrations.Length;

    /// <summary>
    /// Brings the schema to the newest version, replaces the campaign table with <paramref name="catalog"/> and binds
    /// this instance to <paramref name="topic"/> (registered on first use).
    /// </summary>
    public void Migrate(CampaignCatalog catalog, string topic)
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
        TopicId = RegisterTopic(transaction, topic);
        transaction.Commit();
    }

    /// <summary>
    /// The topic's number: its row, else the rows of schema version 1 (topic 0, unnamed) adopted under its name, else a
    /// new number with nothing published yet.
    /// </summary>
    private int RegisterTopic(DbTransaction transaction, string topic)
    {
        var topics = Table("topics");
        using (var register = Command(transaction, $"""
            UPDATE {topics} SET topic = @topic WHERE topic_id = 0 AND topic = '' AND NOT EXISTS (SELECT 1 FROM {topics} WHERE topic = @topic)
            """))
        {
            Parameter(register, "topic").Value = topic;
            register.ExecuteNonQuery();
        }
        using (var add = Command(transaction, $"""
            INSERT INTO {topics} (topic_id, topic, closed_until)
            SELECT (SELECT COALESCE(MAX(topic_id), 0) + 1 FROM {topics}), @topic, @none
            WHERE NOT EXISTS (SELECT 1 FROM {topics} WHERE topic = @topic)
            """))
        {
            Parameter(add, "topic").Value = topic;
            Parameter(add, "none").Value = long.MinValue;
            add.ExecuteNonQuery();
        }
        using var find = Command(transaction, $"SELECT topic_id FROM {topics} WHERE topic = @topic");
        Parameter(find, "topic").Value = topic;
        return Convert.ToInt32(find.ExecuteScalar());
    }

    /// <summary>The event time up to which every window of the topic has been aggregated and published (long.MinValue at first).</summary>
    public long ClosedUntil()
    {
        using var transaction = Connection.BeginTransaction();
        using var query = Command(transaction, $"SELECT closed_until FROM {Table("topics")} WHERE topic_id = @topic");
        Parameter(query, "topic").Value = TopicId;
        return Convert.ToInt64(query.ExecuteScalar());
    }

    /// <summary>Inserts the batch in one transaction; rows already there (same topic, partition and offset) are left alone.</summary>
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
    /// campaigns, counted per tumbling window (floor division, also for negative times) and campaign; the bound topic's
    /// events only.
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
            WHERE e.event_time >= @from AND e.event_time < @to AND e.topic_id = @topic
            GROUP BY 1, 2
            ORDER BY 1, 2
            """);
        SetRange(query, from, to, windowMs);
        return ReadCounts(query);
    }

    /// <summary>The start of the tumbling window of @w ms that holds <paramref name="eventTime"/>: floor division, also for negative times.</summary>
    protected static string WindowStart(string eventTime) => $"{eventTime} - (({eventTime} % @w) + @w) % @w";

    /// <summary>Sets the parameters @w, @from, @to and @topic of a window query.</summary>
    protected void SetRange(DbCommand query, long from, long to, long windowMs)
    {
        Parameter(query, "topic").Value = TopicId;
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

    /// <summary>Whether the event at <paramref name="offset"/> of the topic's <paramref name="partition"/> is stored (a replay after a restart).</summary>
    public bool Contains(int partition, long offset)
    {
        using var transaction = Connection.BeginTransaction();
        using var query = Command(transaction, $"SELECT 1 FROM {Table("events")} WHERE topic_id = @t AND partition_id = @p AND kafka_offset = @o");
        Parameter(query, "t").Value = TopicId;
        Parameter(query, "p").Value = partition;
        Parameter(query, "o").Value = offset;
        return query.ExecuteScalar() is not null;
    }

    public void SetClosedUntil(long closedUntil)
    {
        using var transaction = Connection.BeginTransaction();
        using var update = Command(transaction, $"UPDATE {Table("topics")} SET closed_until = @closed WHERE topic_id = @topic");
        Parameter(update, "closed").Value = closedUntil;
        Parameter(update, "topic").Value = TopicId;
        update.ExecuteNonQuery();
        transaction.Commit();
    }

    /// <summary>Deletes the events older than <paramref name="eventTime"/> (windows long published), of every topic; returns how many.</summary>
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
