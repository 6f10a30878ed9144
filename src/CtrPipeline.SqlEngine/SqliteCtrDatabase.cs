using System.Data.Common;
using Microsoft.Data.Sqlite;
using CtrPipeline.Contracts;
using SQLitePCL;

namespace CtrPipeline.SqlEngine;

/// <summary>
/// The tables in a SQLite file with SQLite's default durability (rollback journal, synchronous=FULL): the embedded
/// stand-in for the database server. A batch is one transaction that steps one prepared single-row INSERT per event
/// through SQLite's C API (the connection's <see cref="SqliteConnection.Handle"/>), SQLite's own bulk-load path: the
/// same statement through ADO.NET's parameter objects, or one INSERT over <c>json_each()</c> of a JSON array, spent
/// more time binding or parsing than SQLite spent storing (docs/measurements.md).
/// </summary>
public sealed class SqliteCtrDatabase(SqliteConnection connection, string path) : CtrDatabase(connection, "")
{
    private static readonly byte[] View = "view"u8.ToArray(), Click = "click"u8.ToArray();

    public override string Product => $"SQLite {Connection.ServerVersion}";

    public override string Description => $"{Product} file {path}";

    protected override void InsertRows(DbTransaction transaction, IReadOnlyList<EventRow> rows)
    {
        var db = connection.Handle!;
        Check(raw.sqlite3_prepare_v2(db, $"""
            INSERT INTO {Table("events")} (partition_id, kafka_offset, event_id, event_type, ad_id, user_id, event_time, kafka_ts, topic_id)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            ON CONFLICT DO NOTHING
            """, out sqlite3_stmt insert), db);
        using (insert)
        {
            raw.sqlite3_bind_int(insert, 9, TopicId); // kept by sqlite3_reset, as bindings are
            foreach (var r in rows)
            {
                raw.sqlite3_bind_int(insert, 1, r.Partition);
                raw.sqlite3_bind_int64(insert, 2, r.Offset);
                raw.sqlite3_bind_int64(insert, 3, r.EventId);
                raw.sqlite3_bind_text(insert, 4, r.Type == EventType.Click ? Click : View);
                raw.sqlite3_bind_int(insert, 5, r.AdId);
                raw.sqlite3_bind_int(insert, 6, r.UserId);
                raw.sqlite3_bind_int64(insert, 7, r.EventTime);
                raw.sqlite3_bind_int64(insert, 8, r.KafkaTimestamp);
                var step = raw.sqlite3_step(insert);
                if (step != raw.SQLITE_DONE) Check(step, db);
                Check(raw.sqlite3_reset(insert), db);
            }
        }
    }

    /// <summary>
    /// The same counts as <see cref="CtrDatabase.Aggregate"/>'s query, in two steps. SQLite has no hash aggregate: a
    /// GROUP BY sorts every row of the window (1.2 M at 120,000 events/s) into a temporary B-tree, which was most of the
    /// query's time. So each event of the range is first added to its (window, ad) row of a keyed temporary table, an
    /// upsert into about a thousand rows, and the CTR query then joins and groups those.
    /// </summary>
    public override List<WindowCount> Aggregate(long from, long to, long windowMs)
    {
        using var transaction = Connection.BeginTransaction();
        Execute(transaction, """
            CREATE TEMP TABLE IF NOT EXISTS window_ads (
                window_start bigint NOT NULL, ad_id integer NOT NULL, views bigint NOT NULL, clicks bigint NOT NULL, max_kafka_ts bigint NOT NULL,
                PRIMARY KEY (window_start, ad_id)) WITHOUT ROWID
            """);
        using (var count = Command(transaction, $"""
            INSERT INTO temp.window_ads (window_start, ad_id, views, clicks, max_kafka_ts)
            SELECT {WindowStart("event_time")}, ad_id, event_type = 'view', event_type = 'click', kafka_ts
            FROM {Table("events")}
            WHERE event_time >= @from AND event_time < @to AND topic_id = @topic
            ON CONFLICT (window_start, ad_id) DO UPDATE SET
                views = views + excluded.views, clicks = clicks + excluded.clicks, max_kafka_ts = max(max_kafka_ts, excluded.max_kafka_ts)
            """))
        {
            SetRange(count, from, to, windowMs);
            count.ExecuteNonQuery();
        }
        List<WindowCount> rows;
        using (var query = Command(transaction, $"""
            SELECT a.window_start, c.campaign_id, SUM(a.views), SUM(a.clicks), MAX(a.max_kafka_ts)
            FROM temp.window_ads a
            JOIN {Table("campaigns")} c ON c.ad_id = a.ad_id
            GROUP BY 1, 2
            ORDER BY 1, 2
            """))
            rows = ReadCounts(query);
        Execute(transaction, "DELETE FROM temp.window_ads");
        transaction.Commit();
        return rows;
    }

    /// <summary>Throws the <see cref="SqliteException"/> (a <see cref="DbException"/>, as the engine expects) for a failed call.</summary>
    private static void Check(int result, sqlite3 db) => SqliteException.ThrowExceptionForRC(result, db);
}
