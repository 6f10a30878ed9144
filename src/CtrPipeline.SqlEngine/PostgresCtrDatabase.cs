using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace CtrPipeline.SqlEngine;

/// <summary>The tables in a PostgreSQL schema; a batch goes in as one INSERT over unnest()ed arrays.</summary>
public sealed class PostgresCtrDatabase(NpgsqlConnection connection, string schema, string server)
    : CtrDatabase(connection, schema + ".")
{
    public override string Product => $"PostgreSQL {Connection.ServerVersion}";

    public override string Description => $"{Product} at {server}, schema {schema}";

    protected override void BeforeMigration(DbTransaction transaction)
    {
        using var command = Command(transaction, $"CREATE SCHEMA IF NOT EXISTS {schema}");
        command.ExecuteNonQuery();
    }

    protected override void InsertRows(DbTransaction transaction, IReadOnlyList<EventRow> rows)
    {
        using var insert = (NpgsqlCommand)Command(transaction, $"""
            INSERT INTO {Table("events")} (topic_id, partition_id, kafka_offset, event_id, event_type, ad_id, user_id, event_time, kafka_ts)
            SELECT @topic, * FROM unnest(@partition, @offset, @id, @type, @ad, @user, @time, @ts)
            ON CONFLICT DO NOTHING
            """);
        insert.Parameters.Add(new NpgsqlParameter("topic", NpgsqlDbType.Integer) { Value = TopicId });
        Add(insert, "partition", NpgsqlDbType.Integer, rows, r => r.Partition);
        Add(insert, "offset", NpgsqlDbType.Bigint, rows, r => r.Offset);
        Add(insert, "id", NpgsqlDbType.Bigint, rows, r => r.EventId);
        Add(insert, "type", NpgsqlDbType.Text, rows, r => r.TypeName);
        Add(insert, "ad", NpgsqlDbType.Integer, rows, r => r.AdId);
        Add(insert, "user", NpgsqlDbType.Integer, rows, r => r.UserId);
        Add(insert, "time", NpgsqlDbType.Bigint, rows, r => r.EventTime);
        Add(insert, "ts", NpgsqlDbType.Bigint, rows, r => r.KafkaTimestamp);
        insert.ExecuteNonQuery();
    }

    private static void Add<T>(NpgsqlCommand command, string name, NpgsqlDbType type, IReadOnlyList<EventRow> rows, Func<EventRow, T> column)
    {
        var values = new T[rows.Count];
        for (var i = 0; i < values.Length; i++) values[i] = column(rows[i]);
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | type) { Value = values });
    }
}
