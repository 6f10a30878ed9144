using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using CtrPipeline.SqlEngine;

namespace SqlEngine.Worker.Tests;

/// <summary>The schema, the idempotent batch insert and the CTR query, on both databases.</summary>
public sealed class CtrDatabaseTests
{
    private static readonly CampaignCatalog Catalog = CampaignCatalog.Generate(3, 2); // ads 1-2 -> campaign 1, 3-4 -> 2, 5-6 -> 3

    [Fact]
    public Task Sqlite_counts_windows_and_campaigns_and_ignores_replayed_rows() => Counts_windows_and_campaigns_and_ignores_replayed_rows(TestDatabase.Sqlite());

    [PostgresFact]
    public Task Postgres_counts_windows_and_campaigns_and_ignores_replayed_rows() => Counts_windows_and_campaigns_and_ignores_replayed_rows(TestDatabase.Postgres());

    [Fact]
    public Task Sqlite_migration_is_repeatable_and_keeps_the_closed_watermark() => Migration_is_repeatable_and_keeps_the_closed_watermark(TestDatabase.Sqlite());

    [PostgresFact]
    public Task Postgres_migration_is_repeatable_and_keeps_the_closed_watermark() => Migration_is_repeatable_and_keeps_the_closed_watermark(TestDatabase.Postgres());

    [Fact]
    public Task Sqlite_inserts_batches_of_any_size_once() => Inserts_batches_of_any_size_once(TestDatabase.Sqlite());

    [PostgresFact]
    public Task Postgres_inserts_batches_of_any_size_once() => Inserts_batches_of_any_size_once(TestDatabase.Postgres());

    [Fact]
    public Task Sqlite_keeps_each_topics_events_and_closed_watermark_apart() => Keeps_each_topics_events_and_closed_watermark_apart(TestDatabase.Sqlite());

    [PostgresFact]
    public Task Postgres_keeps_each_topics_events_and_closed_watermark_apart() => Keeps_each_topics_events_and_closed_watermark_apart(TestDatabase.Postgres());

    [Fact]
    public Task Sqlite_version_1_rows_go_on_as_the_first_topic_that_opens_the_database() => Version_1_rows_go_on_as_the_first_topic_that_opens_the_database(TestDatabase.Sqlite());

    [PostgresFact]
    public Task Postgres_version_1_rows_go_on_as_the_first_topic_that_opens_the_database() => Version_1_rows_go_on_as_the_first_topic_that_opens_the_database(TestDatabase.Postgres());

    /// <summary>
    /// Two topics' events at the same partitions and offsets (a run on new topics, which start at offset 0 again): both
    /// are stored, each topic counts and closes only its own, and neither is taken for the other's replay.
    /// </summary>
    private static async Task Keeps_each_topics_events_and_closed_watermark_apart(TestDatabase test)
    {
        await using var _ = test;
        EventRow Row(int offset, int ad) => new(0, offset, offset, EventType.View, ad, 9, EventTime: offset * 1_000L, KafkaTimestamp: 1);
        using (var earlier = await test.Target.OpenAsync(Catalog, "run-1-events", NullLogger.Instance, CancellationToken.None))
        {
            earlier.Insert([Row(0, 1), Row(1, 1), Row(2, 1)]);
            earlier.SetClosedUntil(10_000);
        }

        using var next = await test.Target.OpenAsync(Catalog, "run-2-events", NullLogger.Instance, CancellationToken.None);
        Assert.Equal(long.MinValue, next.ClosedUntil());
        Assert.False(next.Contains(0, 1));
        next.Insert([Row(0, 5), Row(1, 5)]);
        Assert.True(next.Contains(0, 1));
        Assert.Equal(5, next.CountEvents());
        Assert.Equal([new WindowCount(0, 3, 2, 0, 1)], next.Aggregate(long.MinValue, long.MaxValue, 10_000));

        using var reopened = await test.Target.OpenAsync(Catalog, "run-1-events", NullLogger.Instance, CancellationToken.None);
        Assert.Equal(10_000, reopened.ClosedUntil());
        Assert.Equal([new WindowCount(0, 1, 3, 0, 1)], reopened.Aggregate(long.MinValue, long.MaxValue, 10_000));
    }

    /// <summary>
    /// A database an engine before schema version 2 wrote (events keyed by partition and offset only, one closed
    /// watermark): the engine upgraded in place goes on with its events and watermark; another topic starts apart.
    /// </summary>
    private static async Task Version_1_rows_go_on_as_the_first_topic_that_opens_the_database(TestDatabase test)
    {
        await using var _ = test;
        var prefix = test.IsPostgres ? test.Options.Schema + "." : "";
        await using (var connection = test.IsPostgres
            ? new Npgsql.NpgsqlConnection(PostgresServer.ConnectionString)
            : (System.Data.Common.DbConnection)new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={test.Options.SqliteFile};Pooling=False"))
        {
            await connection.OpenAsync();
            string[] version1 =
            [
                .. test.IsPostgres ? [$"CREATE SCHEMA {test.Options.Schema}"] : Array.Empty<string>(),
                $"CREATE TABLE {prefix}schema_version (version integer NOT NULL)",
                $"INSERT INTO {prefix}schema_version (version) VALUES (1)",
                $"CREATE TABLE {prefix}campaigns (ad_id integer PRIMARY KEY, campaign_id integer NOT NULL, campaign_name text NOT NULL, advertiser text NOT NULL)",
                $"""
                CREATE TABLE {prefix}events (
                    partition_id integer NOT NULL, kafka_offset bigint NOT NULL, event_id bigint NOT NULL,
                    event_type text NOT NULL CHECK (event_type IN ('view', 'click')), ad_id integer NOT NULL, user_id integer NOT NULL,
                    event_time bigint NOT NULL, kafka_ts bigint NOT NULL,
                    PRIMARY KEY (partition_id, kafka_offset))
                """,
                $"CREATE INDEX events_by_event_time ON {prefix}events (event_time)",
                $"CREATE TABLE {prefix}engine_state (id integer PRIMARY KEY CHECK (id = 1), closed_until bigint NOT NULL)",
                $"INSERT INTO {prefix}engine_state (id, closed_until) VALUES (1, 20000)",
                $"INSERT INTO {prefix}events VALUES (0, 7, 1, 'view', 1, 9, 25000, 3), (1, 7, 2, 'click', 2, 9, 26000, 4)",
            ];
            foreach (var sql in version1)
            {
                await using var command = connection.CreateCommand();
                command.CommandText = sql;
                await command.ExecuteNonQueryAsync();
            }
        }

        using (var upgraded = await test.Target.OpenAsync(Catalog, "events", NullLogger.Instance, CancellationToken.None))
        {
            Assert.Equal(20_000, upgraded.ClosedUntil());
            Assert.True(upgraded.Contains(1, 7));
            Assert.Equal([new WindowCount(20_000, 1, 1, 1, 4)], upgraded.Aggregate(20_000, long.MaxValue, 10_000));
        }
        using var other = await test.Target.OpenAsync(Catalog, "other-events", NullLogger.Instance, CancellationToken.None);
        Assert.Equal(long.MinValue, other.ClosedUntil());
        Assert.False(other.Contains(1, 7));
        Assert.Empty(other.Aggregate(long.MinValue, long.MaxValue, 10_000));
    }

    [Fact]
    public async Task Sqlite_insert_waits_for_another_writers_lock()
    {
        await using var test = TestDatabase.Sqlite();
        using var db = await test.Target.OpenAsync(Catalog, "events", NullLogger.Instance, CancellationToken.None);
        await using var other = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={test.Options.SqliteFile};Pooling=False");
        other.Open();
        using (var begin = other.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE"; // holds the write lock, as a second engine on the same file would
            begin.ExecuteNonQuery();
        }
        var release = Task.Delay(500).ContinueWith(_ =>
        {
            using var commit = other.CreateCommand();
            commit.CommandText = "COMMIT";
            commit.ExecuteNonQuery();
        });

        db.Insert([new EventRow(0, 0, 1, EventType.View, AdId: 1, 9, EventTime: 0, KafkaTimestamp: 0)]);

        await release;
        Assert.Equal(1, db.CountEvents());
    }

    /// <summary>Batches larger than a window, overlapping ones and a single row: every row lands once.</summary>
    private static async Task Inserts_batches_of_any_size_once(TestDatabase test)
    {
        await using var _ = test;
        using var db = await test.Target.OpenAsync(Catalog, "events", NullLogger.Instance, CancellationToken.None);
        var rows = Enumerable.Range(0, 1_000)
            .Select(i => new EventRow(i % 2, i / 2, i, i % 10 == 0 ? EventType.Click : EventType.View, AdId: i % 6 + 1, 9, EventTime: i, KafkaTimestamp: i))
            .ToArray();
        db.Insert(rows[..300]);
        db.Insert(rows[200..]);   // replays 100 rows, then 700 new ones
        db.Insert(rows[..1]);
        Assert.Equal(1_000, db.CountEvents());

        var counts = db.Aggregate(long.MinValue, long.MaxValue, 10_000);
        Assert.Equal(900, counts.Sum(c => c.Views));
        Assert.Equal(100, counts.Sum(c => c.Clicks));
    }

    private static async Task Counts_windows_and_campaigns_and_ignores_replayed_rows(TestDatabase test)
    {
        await using var _ = test;
        using var db = await test.Target.OpenAsync(Catalog, "events", NullLogger.Instance, CancellationToken.None);
        EventRow[] rows =
        [
            new(0, 0, 1, EventType.View, AdId: 1, 9, EventTime: -15_000, KafkaTimestamp: 100), // window [-20 s, -10 s): floor, not truncation
            new(0, 1, 2, EventType.Click, AdId: 2, 9, EventTime: -5_000, KafkaTimestamp: 101),
            new(0, 2, 3, EventType.View, AdId: 1, 9, EventTime: 0, KafkaTimestamp: 102),
            new(1, 0, 4, EventType.Click, AdId: 1, 9, EventTime: 9_999, KafkaTimestamp: 150),
            new(1, 1, 5, EventType.View, AdId: 4, 9, EventTime: 5_000, KafkaTimestamp: 99),
            new(1, 2, 6, EventType.View, AdId: 6, 9, EventTime: 10_000, KafkaTimestamp: 200), // window [10 s, 20 s), outside the range asked
        ];
        db.Insert(rows);
        db.Insert(rows[..3]); // a replayed batch: same partitions and offsets
        Assert.Equal(6, db.CountEvents());

        var counts = db.Aggregate(long.MinValue, 10_000, 10_000);

        Assert.Equal(
            [
                new WindowCount(-20_000, 1, 1, 0, 100),
                new WindowCount(-10_000, 1, 0, 1, 101),
                new WindowCount(0, 1, 1, 1, 150),
                new WindowCount(0, 2, 1, 0, 99),
            ], counts);
        Assert.Equal([new WindowCount(10_000, 3, 1, 0, 200)], db.Aggregate(10_000, long.MaxValue, 10_000));

        Assert.Equal(2, db.DeleteEventsBefore(0));
        Assert.Equal(4, db.CountEvents());
    }

    private static async Task Migration_is_repeatable_and_keeps_the_closed_watermark(TestDatabase test)
    {
        await using var _ = test;
        using (var db = await test.Target.OpenAsync(Catalog, "events", NullLogger.Instance, CancellationToken.None))
        {
            Assert.Equal(long.MinValue, db.ClosedUntil());
            db.SetClosedUntil(1_700_000_020_000);
            db.Insert([new EventRow(0, 0, 1, EventType.View, 5, 1, 1_700_000_021_000, 1)]);
            Assert.Contains(test.IsPostgres ? $"schema {test.Options.Schema}" : test.Options.SqliteFile, db.Description);
        }

        // Re-opened with another catalog: the tables and their rows stay, the campaign table is replaced.
        using var again = await test.Target.OpenAsync(CampaignCatalog.Generate(1, 6), "events", NullLogger.Instance, CancellationToken.None);
        Assert.Equal(1_700_000_020_000, again.ClosedUntil());
        Assert.Equal(1, again.CountEvents());
        Assert.Equal([new WindowCount(1_700_000_020_000, 1, 1, 0, 1)], again.Aggregate(long.MinValue, long.MaxValue, 10_000));
    }
}
