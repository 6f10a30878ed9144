using System.Buffers;
using System.Data.Common;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace CtrPipeline.SqlEngine;

/// <summary>
/// The tables in a SQLite file with SQLite's default durability (rollback journal, synchronous=FULL): the embedded
/// stand-in for the database server. A batch is one transaction of one INSERT that reads its rows from a JSON array
/// parameter (<c>json_each</c>), SQLite's bulk path where PostgreSQL has unnest() over arrays: a prepared single-row
/// insert per event held the engine to 65,000 events/s in a catch-up (docs/measurements.md).
/// </summary>
public sealed class SqliteCtrDatabase(SqliteConnection connection, string path) : CtrDatabase(connection, "")
{
    private readonly ArrayBufferWriter<byte> _json = new();

    public override string Product => $"SQLite {Connection.ServerVersion}";

    public override string Description => $"{Product} file {path}";

    protected override void InsertRows(DbTransaction transaction, IReadOnlyList<EventRow> rows)
    {
        // "WHERE true": SQLite's grammar needs it between an INSERT's SELECT and its ON CONFLICT.
        using var insert = Command(transaction, $"""
            INSERT INTO {Table("events")} (partition_id, kafka_offset, event_id, event_type, ad_id, user_id, event_time, kafka_ts)
            SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4, r.value ->> 5, r.value ->> 6, r.value ->> 7
            FROM json_each(@rows) AS r WHERE true
            ON CONFLICT DO NOTHING
            """);
        Parameter(insert, "rows").Value = Json(rows);
        insert.ExecuteNonQuery();
    }

    /// <summary>The rows as one JSON array of arrays, in the insert's column order.</summary>
    private string Json(IReadOnlyList<EventRow> rows)
    {
        _json.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(_json))
        {
            writer.WriteStartArray();
            foreach (var r in rows)
            {
                writer.WriteStartArray();
                writer.WriteNumberValue(r.Partition);
                writer.WriteNumberValue(r.Offset);
                writer.WriteNumberValue(r.EventId);
                writer.WriteStringValue(r.TypeName);
                writer.WriteNumberValue(r.AdId);
                writer.WriteNumberValue(r.UserId);
                writer.WriteNumberValue(r.EventTime);
                writer.WriteNumberValue(r.KafkaTimestamp);
                writer.WriteEndArray();
            }
            writer.WriteEndArray();
        }
        return Encoding.UTF8.GetString(_json.WrittenSpan);
    }
}
