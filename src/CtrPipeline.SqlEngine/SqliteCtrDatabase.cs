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
            INSERT INTO {Table("events")} (partition_id, kafka_offset, event_id, event_type, ad_id, user_id, event_time, kafka_ts)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            ON CONFLICT DO NOTHING
            """, out sqlite3_stmt insert), db);
        using (insert)
        {
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

    /// <summary>Throws the <see cref="SqliteException"/> (a <see cref="DbException"/>, as the engine expects) for a failed call.</summary>
    private static void Check(int result, sqlite3 db) => SqliteException.ThrowExceptionForRC(result, db);
}
