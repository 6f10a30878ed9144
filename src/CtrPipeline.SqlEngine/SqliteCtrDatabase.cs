using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace CtrPipeline.SqlEngine;

/// <summary>
/// The tables in a SQLite file with SQLite's default durability (rollback journal, synchronous=FULL): the embedded
/// stand-in for the database server. A batch is one transaction of prepared single-row inserts.
/// </summary>
public sealed class SqliteCtrDatabase(SqliteConnection connection, string path) : CtrDatabase(connection, "")
{
    public override string Product => $"SQLite {Connection.ServerVersion}";

    public override string Description => $"{Product} file {path}";

    protected override void InsertRows(DbTransaction transaction, IReadOnlyList<EventRow> rows)
    {
        using var insert = Command(transaction, $"""
            INSERT INTO {Table("events")} (partition_id, kafka_offset, event_id, event_type, ad_id, user_id, event_time, kafka_ts)
            VALUES (@partition, @offset, @id, @type, @ad, @user, @time, @ts)
            ON CONFLICT DO NOTHING
            """);
        DbParameter[] p =
        [
            Parameter(insert, "partition"), Parameter(insert, "offset"), Parameter(insert, "id"), Parameter(insert, "type"),
            Parameter(insert, "ad"), Parameter(insert, "user"), Parameter(insert, "time"), Parameter(insert, "ts"),
        ];
        insert.Prepare();
        foreach (var r in rows)
        {
            (p[0].Value, p[1].Value, p[2].Value, p[3].Value) = (r.Partition, r.Offset, r.EventId, r.TypeName);
            (p[4].Value, p[5].Value, p[6].Value, p[7].Value) = (r.AdId, r.UserId, r.EventTime, r.KafkaTimestamp);
            insert.ExecuteNonQuery();
        }
    }
}
