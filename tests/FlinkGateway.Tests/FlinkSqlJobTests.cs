using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

namespace FlinkGateway.Tests;

/// <summary>The SQL the engine submits, from the configuration: the whole job for the defaults, the parts that vary otherwise.</summary>
public sealed class FlinkSqlJobTests
{
    private static FlinkOptions Options(string kafka = "kafka:9093", PipelineSettings? pipeline = null) =>
        new FlinkOptions { KafkaBootstrapServers = kafka, GatewayUrl = "http://localhost:8083" }
            .Resolve(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), pipeline ?? new PipelineSettings());

    /// <summary>A small catalog: ads 1 and 2 in campaign 1, ad 3 in campaign 2.</summary>
    internal static readonly CampaignCatalog Catalog = new([new(2, 1, "c1", "a1"), new(1, 1, "c1", "a1"), new(3, 2, "c2", "a2")]);

    private static IReadOnlyList<string> Statements(PipelineSettings pipeline, FlinkOptions options) => FlinkSqlJob.Statements(pipeline, options, Catalog);

    private const string Plausible = "`event_ts` > TO_TIMESTAMP_LTZ(0, 3) AND `event_ts` <= `kafka_ts` + INTERVAL '300' SECOND(3)";

    private static string Integer(string field, string type, string digits = "-?[0-9]+") =>
        $"TRY_CAST(REGEXP_EXTRACT(JSON_QUERY(DECODE(`value`, 'UTF-8'), '$.{field}' WITH UNCONDITIONAL ARRAY WRAPPER), '^\\[({digits})\\]$', 1) AS {type})";

    private const string EpochMillisOfWindowStart =
        "UNIX_TIMESTAMP(DATE_FORMAT(`window_start`, 'yyyy-MM-dd HH:mm:ss')) * 1000 + CAST(DATE_FORMAT(`window_start`, 'SSS') AS BIGINT)";

    [Fact]
    public void Default_configuration_submits_exactly_this_job()
    {
        var statements = Statements(new PipelineSettings(), Options());

        string[] expected =
        [
            "SET 'table.local-time-zone' = 'UTC'",
            "SET 'pipeline.name' = 'ctr-pipeline'",
            "SET 'parallelism.default' = '4'",
            "SET 'table.exec.source.idle-timeout' = '5 s'",
            "SET 'execution.checkpointing.interval' = '10 s'",
            "SET 'execution.checkpointing.dir' = 'file:///opt/ctr/state/checkpoints'",
            "SET 'state.checkpoints.dir' = 'file:///opt/ctr/state/checkpoints'",
            "SET 'execution.checkpointing.savepoint-dir' = 'file:///opt/ctr/state/savepoints'",
            "SET 'state.savepoints.dir' = 'file:///opt/ctr/state/savepoints'",
            $"""
            CREATE TEMPORARY TABLE `events` (
              `key` BYTES,
              `value` BYTES,
              `kafka_ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
              `event_ts` AS TO_TIMESTAMP_LTZ(COALESCE({Integer("event_time", "BIGINT", "[0-9]{1,14}")}, 0), 3),
              WATERMARK FOR `event_ts` AS CASE WHEN {Plausible} THEN `event_ts` - INTERVAL '2' SECOND END
            ) WITH (
              'connector' = 'kafka',
              'topic' = 'events',
              'properties.bootstrap.servers' = 'kafka:9093',
              'properties.group.id' = 'ctr-flink',
              'scan.startup.mode' = 'group-offsets',
              'properties.auto.offset.reset' = 'earliest',
              'key.format' = 'raw',
              'key.fields' = 'key',
              'value.format' = 'raw',
              'value.fields-include' = 'EXCEPT_KEY'
            )
            """,
            $"""
            CREATE TEMPORARY VIEW `event_fields` AS
            SELECT `key`, `value`, `kafka_ts`, `event_ts`,
              {Integer("event_id", "BIGINT")} AS `event_id`,
              JSON_VALUE(DECODE(`value`, 'UTF-8'), '$.event_type') AS `event_type`,
              {Integer("ad_id", "INT")} AS `ad_id`,
              {Integer("user_id", "INT")} AS `user_id`,
              {Integer("event_time", "BIGINT")} AS `event_time`
            FROM `events`
            """,
            $"""
            CREATE TEMPORARY VIEW `checked_events` AS
            SELECT `key`, `value`, `kafka_ts`, `event_ts`, `event_type`, `campaign_id`,
              CASE
                WHEN `event_id` IS NOT NULL AND `event_type` IN ('view', 'click') AND `ad_id` IS NOT NULL AND `user_id` IS NOT NULL AND `event_time` IS NOT NULL AND {Plausible} AND `campaign_id` IS NOT NULL THEN CAST(NULL AS STRING)
                WHEN NOT (DECODE(`value`, 'UTF-8') IS JSON OBJECT) THEN 'malformed: not a JSON object'
                WHEN `event_id` IS NULL THEN 'malformed: event_id must be a 64-bit integer'
                WHEN `event_type` IS NULL OR `event_type` NOT IN ('view', 'click') THEN 'malformed: event_type must be "view" or "click" (case-sensitive)'
                WHEN `ad_id` IS NULL THEN 'malformed: ad_id must be a 32-bit integer'
                WHEN `user_id` IS NULL THEN 'malformed: user_id must be a 32-bit integer'
                WHEN `event_time` IS NULL THEN 'malformed: event_time must be a 64-bit integer'
                WHEN NOT ({Plausible}) THEN 'event time out of range'
                ELSE 'unknown ad_id ' || CAST(`ad_id` AS STRING)
              END AS `error`
            FROM (
              SELECT `key`, `value`, `kafka_ts`, `event_ts`, `event_id`, `event_type`, `ad_id`, `user_id`, `event_time`,
                CASE
                  WHEN `ad_id` IN (1, 2) THEN 1
                  WHEN `ad_id` IN (3) THEN 2
                END AS `campaign_id`
              FROM `event_fields`
            )
            """,
            """
            CREATE TEMPORARY VIEW `campaign_events` AS
            SELECT `campaign_id`, `event_type`, `event_ts`, `kafka_ts`
            FROM `checked_events`
            WHERE `error` IS NULL
            """,
            """
            CREATE TEMPORARY TABLE `ctr_results` (
              `result_key` STRING,
              `engine` STRING,
              `window_start` BIGINT,
              `window_end` BIGINT,
              `campaign_id` INT,
              `views` BIGINT,
              `clicks` BIGINT,
              `ctr` DOUBLE,
              `max_event_kafka_ts` BIGINT,
              `computed_at` BIGINT,
              `final` BOOLEAN
            ) WITH (
              'connector' = 'kafka',
              'topic' = 'ctr_results',
              'properties.bootstrap.servers' = 'kafka:9093',
              'key.format' = 'raw',
              'key.fields' = 'result_key',
              'value.format' = 'json',
              'value.fields-include' = 'EXCEPT_KEY',
              'sink.delivery-guarantee' = 'at-least-once'
            )
            """,
            """
            CREATE TEMPORARY TABLE `events_dlq` (
              `key` BYTES,
              `value` BYTES,
              `headers` MAP<STRING, BYTES> METADATA
            ) WITH (
              'connector' = 'kafka',
              'topic' = 'events_dlq',
              'properties.bootstrap.servers' = 'kafka:9093',
              'key.format' = 'raw',
              'key.fields' = 'key',
              'value.format' = 'raw',
              'value.fields-include' = 'EXCEPT_KEY',
              'sink.delivery-guarantee' = 'at-least-once'
            )
            """,
            $"""
            EXECUTE STATEMENT SET
            BEGIN
            INSERT INTO `ctr_results`
            SELECT
              CAST(`campaign_id` AS STRING),
              'flink',
              {EpochMillisOfWindowStart},
              {EpochMillisOfWindowStart.Replace("window_start", "window_end")},
              `campaign_id`,
              `views`,
              `clicks`,
              CASE WHEN `views` = 0 THEN 0E0 ELSE CAST(`clicks` AS DOUBLE) / `views` END,
              {EpochMillisOfWindowStart.Replace("window_start", "max_event_kafka_ts")},
              {EpochMillisOfWindowStart.Replace("window_start", "computed_at")},
              TRUE
            FROM (
              SELECT `window_start`, `window_end`, `campaign_id`, `views`, `clicks`, `max_event_kafka_ts`,
                CAST(CURRENT_ROW_TIMESTAMP() AS TIMESTAMP(3)) AS `computed_at`
              FROM (
                SELECT `window_start`, `window_end`, `campaign_id`,
                  COUNT(*) FILTER (WHERE `event_type` = 'view') AS `views`,
                  COUNT(*) FILTER (WHERE `event_type` = 'click') AS `clicks`,
                  CAST(MAX(`kafka_ts`) AS TIMESTAMP(3)) AS `max_event_kafka_ts`
                FROM TABLE(TUMBLE(TABLE `campaign_events`, DESCRIPTOR(`event_ts`), INTERVAL '10' SECOND))
                GROUP BY `window_start`, `window_end`, `campaign_id`
              )
            );
            INSERT INTO `events_dlq`
            SELECT `key`, `value`, MAP[CAST('engine' AS STRING), ENCODE('flink', 'UTF-8'), CAST('error' AS STRING), ENCODE(`error`, 'UTF-8')]
            FROM `checked_events`
            WHERE `error` IS NOT NULL;
            END
            """,
        ];
        Assert.Equal(expected, statements);
    }

    [Fact]
    public void Window_watermark_idle_timeout_and_parallelism_follow_the_settings()
    {
        var pipeline = new PipelineSettings
        {
            WindowSize = TimeSpan.FromMinutes(1),
            WatermarkDelay = TimeSpan.FromMilliseconds(500),
            IdleTimeout = TimeSpan.FromMilliseconds(1500),
            Partitions = 8,
        };
        var options = Options();
        options.CheckpointInterval = TimeSpan.FromSeconds(30);

        var sql = string.Join("\n;\n", Statements(pipeline, options));

        Assert.Contains("TUMBLE(TABLE `campaign_events`, DESCRIPTOR(`event_ts`), INTERVAL '60' SECOND)", sql);
        Assert.Contains("THEN `event_ts` - INTERVAL '0.5' SECOND END", sql);
        Assert.Contains("SET 'table.exec.source.idle-timeout' = '1500 ms'", sql);
        Assert.Contains("SET 'parallelism.default' = '8'", sql);
        Assert.Contains("SET 'execution.checkpointing.interval' = '30 s'", sql);
    }

    [Fact]
    public void Topics_kafka_address_catalog_job_name_and_group_are_the_configured_ones_quoted_as_sql()
    {
        var pipeline = new PipelineSettings { Topics = { Events = "ad_events", Results = "ctr_out" } };
        var options = Options("broker-1:9092,broker-2:9092");
        options.JobName = "ctr-bench";
        options.GroupId = "flink-bench";
        options.Parallelism = 2;

        var statements = Statements(pipeline, options);
        var events = statements.Single(s => s.StartsWith("CREATE TEMPORARY TABLE `events`", StringComparison.Ordinal));
        var sink = statements.Single(s => s.StartsWith("CREATE TEMPORARY TABLE `ctr_results`", StringComparison.Ordinal));

        Assert.Contains("'topic' = 'ad_events'", events);
        Assert.Contains("'properties.bootstrap.servers' = 'broker-1:9092,broker-2:9092'", events);
        Assert.Contains("'properties.group.id' = 'flink-bench'", events);
        Assert.Contains("'topic' = 'ctr_out'", sink);
        Assert.Contains("'properties.bootstrap.servers' = 'broker-1:9092,broker-2:9092'", sink);
        Assert.Contains("SET 'pipeline.name' = 'ctr-bench'", statements);
        Assert.Contains("SET 'parallelism.default' = '2'", statements); // Flink:Parallelism wins over the partitions
        Assert.StartsWith("EXECUTE STATEMENT SET\nBEGIN\nINSERT INTO `ctr_results`", statements[^1]);
    }

    [Fact]
    public void An_event_time_beyond_the_skew_ahead_of_its_kafka_timestamp_neither_counts_nor_moves_the_watermark()
    {
        var statements = Statements(new PipelineSettings { MaxEventTimeSkew = TimeSpan.FromSeconds(30) }, Options());
        const string plausible = "`event_ts` > TO_TIMESTAMP_LTZ(0, 3) AND `event_ts` <= `kafka_ts` + INTERVAL '30' SECOND";

        var events = statements.Single(s => s.StartsWith("CREATE TEMPORARY TABLE `events`", StringComparison.Ordinal));
        Assert.Contains($"WATERMARK FOR `event_ts` AS CASE WHEN {plausible} THEN `event_ts` - INTERVAL '2' SECOND END", events);
        var checks = statements.Single(s => s.StartsWith("CREATE TEMPORARY VIEW `checked_events`", StringComparison.Ordinal));
        Assert.Contains($"AND {plausible} AND `campaign_id` IS NOT NULL THEN CAST(NULL AS STRING)", checks);
        Assert.Contains($"WHEN NOT ({plausible}) THEN 'event time out of range'", checks);
    }

    /// <summary>
    /// Records the contract calls malformed, each with the field that makes it so. Flink's JSON format would count most
    /// of them ("7" read as 7, 7.5 truncated to 7, a field it cannot read as NULL in a row that still counts).
    /// </summary>
    public static TheoryData<string, string> HostileRecords => new()
    {
        { """{"event_id":1,"event_type":"view","ad_id":"7","user_id":3,"event_time":1700000000000}""", "ad_id" },
        { """{"event_id":1,"event_type":"view","ad_id":7.5,"user_id":3,"event_time":1700000000000}""", "ad_id" },
        { """{"event_id":1,"event_type":"view","ad_id":7.0,"user_id":3,"event_time":1700000000000}""", "ad_id" },
        { """{"event_id":1,"event_type":"view","ad_id":[7],"user_id":3,"event_time":1700000000000}""", "ad_id" },
        { """{"event_id":1,"event_type":"view","ad_id":{"id":7},"user_id":3,"event_time":1700000000000}""", "ad_id" },
        { """{"event_id":1,"event_type":"view","ad_id":2147483648,"user_id":3,"event_time":1700000000000}""", "ad_id" },
        { """{"event_id":1,"event_type":"view","ad_id":null,"user_id":3,"event_time":1700000000000}""", "ad_id" },
        { """{"event_id":1,"event_type":"view","user_id":3,"event_time":1700000000000}""", "ad_id" },
        { """{"event_id":"1","event_type":"view","ad_id":7,"user_id":3,"event_time":1700000000000}""", "event_id" },
        { """{"event_id":1,"event_type":"view","ad_id":7,"user_id":true,"event_time":1700000000000}""", "user_id" },
        { """{"event_id":1,"event_type":"view","ad_id":7,"user_id":3,"event_time":"1700000000000"}""", "event_time" },
        { """{"event_id":1,"event_type":"view","ad_id":7,"user_id":3,"event_time":1.7E12}""", "event_time" },
        { """{"event_id":1,"event_type":"VIEW","ad_id":7,"user_id":3,"event_time":1700000000000}""", "event_type" },
        { """{"event_id":1,"event_type":7,"ad_id":7,"user_id":3,"event_time":1700000000000}""", "event_type" },
        { """not json""", "not a JSON object" },
        { """[1,2]""", "not a JSON object" },
    };

    [Theory]
    [MemberData(nameof(HostileRecords))]
    public void A_hostile_record_fails_the_check_of_its_field_and_goes_to_the_dead_letters_with_that_reason(string record, string field)
    {
        var statements = Statements(new PipelineSettings(), Options());
        var fields = statements.Single(s => s.StartsWith("CREATE TEMPORARY VIEW `event_fields`", StringComparison.Ordinal));
        var checks = statements.Single(s => s.StartsWith("CREATE TEMPORARY VIEW `checked_events`", StringComparison.Ordinal));

        // What the generated field expressions make of the record: NULL for every field that is not what the contract asks.
        var nulls = new[] { "event_id", "ad_id", "user_id", "event_time" }.Where(f => JsonIntegerAsFlinkReadsIt(record, fields, f) is null).ToList();
        if (EventType(record) is not ("view" or "click")) nulls.Add("event_type");
        if (field == "not a JSON object") Assert.Equal(5, nulls.Count);
        else Assert.Equal([field], nulls);

        // Every such record has a reason, is left out of the counts and is sent to events_dlq by the same job.
        Assert.Contains(field == "not a JSON object" ? "THEN 'malformed: not a JSON object'" : $"WHEN `{field}` IS NULL", checks);
        var counts = checks.Split('\n').Single(l => l.Contains("THEN CAST(NULL AS STRING)"));
        Assert.Contains(field switch { "not a JSON object" => "`event_id` IS NOT NULL", "event_type" => "`event_type` IN ('view', 'click')", _ => $"`{field}` IS NOT NULL" }, counts);
        Assert.EndsWith("FROM `checked_events`\nWHERE `error` IS NULL", statements.Single(s => s.StartsWith("CREATE TEMPORARY VIEW `campaign_events`", StringComparison.Ordinal)));
        var job = statements[^1];
        Assert.StartsWith("EXECUTE STATEMENT SET\nBEGIN\n", job);
        Assert.Contains("INSERT INTO `events_dlq`\nSELECT `key`, `value`, MAP[CAST('engine' AS STRING), ENCODE('flink', 'UTF-8'), CAST('error' AS STRING), ENCODE(`error`, 'UTF-8')]\nFROM `checked_events`\nWHERE `error` IS NOT NULL;", job);
    }

    [Fact]
    public void A_well_formed_record_passes_every_field_check()
    {
        var fields = Statements(new PipelineSettings(), Options()).Single(s => s.StartsWith("CREATE TEMPORARY VIEW `event_fields`", StringComparison.Ordinal));
        const string record = """{"event_id":-1,"event_type":"click","ad_id":7,"user_id":3,"event_time":1700000000000,"page":{"x":[1]}}""";
        Assert.Equal((-1L, 7L, 3L, 1700000000000L), (JsonIntegerAsFlinkReadsIt(record, fields, "event_id"), JsonIntegerAsFlinkReadsIt(record, fields, "ad_id"),
            JsonIntegerAsFlinkReadsIt(record, fields, "user_id"), JsonIntegerAsFlinkReadsIt(record, fields, "event_time")));
    }

    [Theory]
    [InlineData("253402300800000")] // 10000-01-01: past TO_TIMESTAMP_LTZ's range, which made the rowtime NULL and failed the job
    [InlineData("9223372036854775807")]
    [InlineData("-62167219200001")] // before the year 0
    [InlineData("0")]
    public void An_event_time_outside_timestamps_range_gets_the_epoch_as_rowtime_never_null_and_is_out_of_range(string eventTime)
    {
        var statements = Statements(new PipelineSettings(), Options());
        var events = statements.Single(s => s.StartsWith("CREATE TEMPORARY TABLE `events`", StringComparison.Ordinal));
        var rowtime = events.Split('\n').Single(l => l.TrimStart().StartsWith("`event_ts` AS ", StringComparison.Ordinal));
        var record = $$"""{"event_id":1,"event_type":"view","ad_id":7,"user_id":3,"event_time":{{eventTime}}}""";

        // The rowtime: TO_TIMESTAMP_LTZ(COALESCE(<integer of at most 14 digits>, 0), 3), never NULL.
        Assert.Matches(@"^`event_ts` AS TO_TIMESTAMP_LTZ\(COALESCE\(.*, 0\), 3\),$", rowtime.Trim());
        Assert.Equal(0L, JsonIntegerAsFlinkReadsIt(record, rowtime, "event_time") ?? 0L);
        Assert.Equal(1700000000000L, JsonIntegerAsFlinkReadsIt(record.Replace(eventTime, "1700000000000"), rowtime, "event_time"));
        Assert.True(99_999_999_999_999L < 253402300799999L); // the largest 14-digit time is within TO_TIMESTAMP_LTZ's range (DateTimeUtils.MAX_EPOCH_MILLS)
        // The epoch is not plausible: such a record neither counts nor moves the watermark, and is dead-lettered.
        Assert.Contains("WATERMARK FOR `event_ts` AS CASE WHEN `event_ts` > TO_TIMESTAMP_LTZ(0, 3) AND", events);
        Assert.Contains("THEN 'event time out of range'", statements.Single(s => s.StartsWith("CREATE TEMPORARY VIEW `checked_events`", StringComparison.Ordinal)));
    }

    /// <summary>
    /// The generated expression for <paramref name="field"/>, applied as Flink applies it: JSON_QUERY with an
    /// unconditional array wrapper serialises the field in brackets (a string with its quotes, an integer as its digits,
    /// a fraction with its point or exponent: Flink's JSON functions read fractions as BigDecimal), REGEXP_EXTRACT takes
    /// the pattern of the SQL, TRY_CAST gives NULL outside the type's range. Missing, null or not an object: NULL.
    /// </summary>
    private static long? JsonIntegerAsFlinkReadsIt(string record, string sql, string field)
    {
        var expression = System.Text.RegularExpressions.Regex.Match(sql,
            $@"TRY_CAST\(REGEXP_EXTRACT\(JSON_QUERY\(DECODE\(`value`, 'UTF-8'\), '\$\.{field}' WITH UNCONDITIONAL ARRAY WRAPPER\), '([^']+)', 1\) AS (INT|BIGINT)\)");
        Assert.True(expression.Success, $"no integer check of {field}");
        System.Text.Json.JsonElement value;
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(record);
            if (document.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object
                || !document.RootElement.TryGetProperty(field, out value)
                || value.ValueKind == System.Text.Json.JsonValueKind.Null) return null;
            value = value.Clone();
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
        var match = System.Text.RegularExpressions.Regex.Match("[" + value.GetRawText() + "]", expression.Groups[1].Value);
        if (!match.Success) return null;
        return expression.Groups[2].Value == "INT"
            ? int.TryParse(match.Groups[1].Value, out var i) ? i : null
            : long.TryParse(match.Groups[1].Value, out var l) ? l : null;
    }

    private static string? EventType(string record)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(record);
            return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && document.RootElement.TryGetProperty("event_type", out var t)
                && t.ValueKind == System.Text.Json.JsonValueKind.String ? t.GetString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    [Fact]
    public void A_run_on_its_own_topics_has_its_own_job_name_and_transactional_ids_unless_they_are_set()
    {
        var run = new PipelineSettings { Topics = new TopicNames().WithPrefix("run7") };
        var options = Options(pipeline: run);
        options.DeliveryGuarantee = FlinkOptions.ExactlyOnce;

        var sql = string.Join("\n;\n", FlinkSqlJob.Statements(run, options, Catalog));

        Assert.Equal("ctr-pipeline-run7-events", options.JobName);
        Assert.Contains("SET 'pipeline.name' = 'ctr-pipeline-run7-events'", sql);
        Assert.Contains("'sink.transactional-id-prefix' = 'ctr-pipeline-run7-events',", sql);
        Assert.Contains("'sink.transactional-id-prefix' = 'ctr-pipeline-run7-events-dlq',", sql);
        Assert.Equal("ctr-pipeline", Options().JobName); // the default topics keep the default name
        var named = new FlinkOptions { KafkaBootstrapServers = "kafka:9093", JobName = "mine" }
            .Resolve(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), run, requireGateway: false);
        Assert.Equal("mine", named.JobName);
    }

    [Fact]
    public void Exactly_once_makes_the_sink_transactional_within_the_brokers_default_transaction_limit()
    {
        var options = Options();
        options.DeliveryGuarantee = FlinkOptions.ExactlyOnce;
        options.JobName = "ctr-bench";

        var sink = Statements(new PipelineSettings(), options).Single(s => s.StartsWith("CREATE TEMPORARY TABLE `ctr_results`", StringComparison.Ordinal));

        Assert.EndsWith("""
              'value.fields-include' = 'EXCEPT_KEY',
              'sink.delivery-guarantee' = 'exactly-once',
              'sink.transactional-id-prefix' = 'ctr-bench',
              'properties.transaction.timeout.ms' = '900000'
            )
            """, sink);
        // The dead letters have their own prefix: two sinks with one prefix would fence each other's producers.
        var deadLetters = FlinkSqlJob.Statements(new PipelineSettings(), options, Catalog).Single(s => s.StartsWith("CREATE TEMPORARY TABLE `events_dlq`", StringComparison.Ordinal));
        Assert.Contains("'sink.transactional-id-prefix' = 'ctr-bench-dlq',", deadLetters);
    }

    [Fact]
    public void The_clock_is_read_once_per_row()
    {
        var insert = Statements(new PipelineSettings(), Options())[^1];
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(insert, "CURRENT_ROW_TIMESTAMP"));
    }

    [Fact]
    public void Checkpoints_and_savepoints_go_to_the_state_directory_under_the_old_and_the_new_key()
    {
        var options = Options();
        options.StateDirectory = "s3://bucket/flink/";

        var statements = Statements(new PipelineSettings(), options);

        Assert.Contains("SET 'execution.checkpointing.dir' = 's3://bucket/flink/checkpoints'", statements); // Flink 1.20
        Assert.Contains("SET 'state.checkpoints.dir' = 's3://bucket/flink/checkpoints'", statements); // before 1.20
        Assert.Contains("SET 'execution.checkpointing.savepoint-dir' = 's3://bucket/flink/savepoints'", statements);
        Assert.Contains("SET 'state.savepoints.dir' = 's3://bucket/flink/savepoints'", statements);
    }

    [Fact]
    public void The_default_state_directory_is_one_the_repository_flink_image_creates_for_the_flink_user()
    {
        var repository = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));
        var dockerfile = File.ReadAllText(Path.Combine(repository, "flink", "Dockerfile"));
        var path = new Uri(new FlinkOptions().StateDirectory).LocalPath;
        Assert.Equal("/opt/ctr/state", path);
        Assert.Contains($"mkdir -p {path}", dockerfile);
        Assert.Contains($"chown -R flink:flink {path}", dockerfile);
    }

    [Fact]
    public void The_catalog_is_part_of_the_job_so_that_kafka_is_its_only_source_and_only_watermark()
    {
        // A bounded catalog source would end with the end-of-input watermark (Long.MAX_VALUE), and an event-time
        // temporal join with it stalls once every Kafka partition is idle (FLINK-38477).
        var statements = Statements(new PipelineSettings(), Options());
        var sql = string.Join("\n;\n", statements);

        Assert.DoesNotContain("FOR SYSTEM_TIME AS OF", sql);
        Assert.DoesNotContain("JOIN", sql);
        Assert.DoesNotContain("'filesystem'", sql);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(sql, "WATERMARK FOR"));
        var tables = statements.Where(s => s.StartsWith("CREATE TEMPORARY TABLE", StringComparison.Ordinal)).ToList();
        Assert.All(tables, table => Assert.Contains("'connector' = 'kafka'", table));
        Assert.Single(tables, table => table.Contains("'scan.startup.mode'")); // one source: the events topic; the rest are sinks
    }

    [Fact]
    public void Every_ad_of_the_repository_catalog_maps_to_its_campaign_and_no_other()
    {
        var catalog = CampaignCatalog.Load(CampaignCatalog.DefaultPath);
        var mapping = FlinkSqlJob.CampaignOf("ad_id", catalog);

        var whens = System.Text.RegularExpressions.Regex.Matches(mapping, @"WHEN `ad_id` IN \(([0-9, ]+)\) THEN ([0-9]+)");
        var mapped = whens.SelectMany(m => m.Groups[1].Value.Split(", ").Select(ad => (Ad: int.Parse(ad), Campaign: int.Parse(m.Groups[2].Value)))).ToList();
        Assert.Equal(catalog.Ads.Count, mapped.Count);
        Assert.All(mapped, m => Assert.True(catalog.TryGetCampaign(m.Ad, out var campaign) && campaign == m.Campaign));
        Assert.Equal(catalog.CampaignCount, whens.Count);
    }

    [Theory]
    [InlineData(2_000, "INTERVAL '2' SECOND")]
    [InlineData(0, "INTERVAL '0' SECOND")]
    [InlineData(250, "INTERVAL '0.25' SECOND")]
    [InlineData(99_000, "INTERVAL '99' SECOND")]
    [InlineData(150_000, "INTERVAL '150' SECOND(3)")]
    [InlineData(3_600_500, "INTERVAL '3600.5' SECOND(4)")]
    public void Intervals_are_seconds_with_the_leading_precision_widened_past_two_digits(int milliseconds, string expected) =>
        Assert.Equal(expected, FlinkSqlJob.Interval(TimeSpan.FromMilliseconds(milliseconds)));

    [Theory]
    [InlineData(5_000, "5 s")]
    [InlineData(1_500, "1500 ms")]
    [InlineData(60_000, "60 s")]
    public void Configuration_durations_are_seconds_or_milliseconds(int milliseconds, string expected) =>
        Assert.Equal(expected, FlinkSqlJob.Duration(TimeSpan.FromMilliseconds(milliseconds)));

    /// <summary>Options for a secured cluster: Kafka:Properties:&lt;name&gt; in librdkafka's names.</summary>
    internal static FlinkOptions Secured(params (string Name, string Value)[] properties) => Secured(new FlinkOptions(), properties);

    private static FlinkOptions Secured(FlinkOptions options, params (string Name, string Value)[] properties)
    {
        options.KafkaBootstrapServers = "kafka:9093";
        options.GatewayUrl = "http://localhost:8083";
        return options.Resolve(new ConfigurationBuilder().AddInMemoryCollection(
            properties.Select(p => KeyValuePair.Create($"Kafka:Properties:{p.Name}", (string?)p.Value))).Build(), new PipelineSettings());
    }

    /// <summary>The default job with these options after each Kafka table's (events, ctr_results, events_dlq) bootstrap servers, and nothing else changed.</summary>
    private static List<string> DefaultJobWith(params string[] options)
    {
        const string bootstrap = "'properties.bootstrap.servers' = 'kafka:9093',\n";
        var job = Statements(new PipelineSettings(), Options());
        Assert.Equal(3, job.Count(s => s.Contains(bootstrap)));
        return [.. job.Select(s => s.Replace(bootstrap, bootstrap + string.Concat(options.Select(o => $"  {o},\n"))))];
    }

    [Fact]
    public void Sasl_plain_gives_every_kafka_table_the_jaas_config_with_the_login_module_the_sql_connector_jar_relocates()
    {
        var options = Secured(("security.protocol", "SASL_SSL"), ("sasl.mechanisms", "PLAIN"), ("sasl.username", "ctr"), ("sasl.password", "it's-s3cret"));

        Assert.Equal(DefaultJobWith(
            "'properties.security.protocol' = 'SASL_SSL'",
            "'properties.sasl.mechanism' = 'PLAIN'",
            "'properties.sasl.jaas.config' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.plain.PlainLoginModule required username=\"ctr\" password=\"it''s-s3cret\";'"),
            Statements(new PipelineSettings(), options));
    }

    [Fact]
    public void Scram_sha_512_over_ssl_trusts_the_ca_file_where_the_containers_see_it()
    {
        var options = Secured(("security.protocol", "sasl_ssl"), ("sasl.mechanism", "SCRAM-SHA-512"), ("sasl.username", "ctr"), ("sasl.password", "pw"),
            ("ssl.ca.location", "/home/me/kafka/ca.pem"));

        Assert.Equal(DefaultJobWith(
            "'properties.security.protocol' = 'SASL_SSL'",
            "'properties.sasl.mechanism' = 'SCRAM-SHA-512'",
            "'properties.sasl.jaas.config' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule required username=\"ctr\" password=\"pw\";'",
            "'properties.ssl.truststore.type' = 'PEM'",
            "'properties.ssl.truststore.location' = '/etc/ctr/kafka/ca.pem'"),
            Statements(new PipelineSettings(), options));
        Assert.Equal([new KafkaFileMount("/home/me/kafka/ca.pem", "/etc/ctr/kafka/ca.pem")], options.KafkaClient.Mounts);
    }

    [Fact]
    public void Ssl_with_a_ca_in_another_folder_and_no_host_name_check()
    {
        var options = Secured(new FlinkOptions { KafkaFilesFolder = "/opt/kafka-certs/" },
            ("security.protocol", "SSL"), ("ssl.ca.location", "ca.crt"), ("ssl.endpoint.identification.algorithm", "none"));

        Assert.Equal(DefaultJobWith(
            "'properties.security.protocol' = 'SSL'",
            "'properties.ssl.truststore.type' = 'PEM'",
            "'properties.ssl.truststore.location' = '/opt/kafka-certs/ca.crt'",
            "'properties.ssl.endpoint.identification.algorithm' = ''"),
            Statements(new PipelineSettings(), options));
    }

    [Fact]
    public void Mutual_tls_gives_the_certificate_and_key_inline_read_from_their_files_at_submission()
    {
        var folder = Directory.CreateTempSubdirectory("ctr-flink-mtls").FullName;
        var (certificate, key) = JavaKafkaPropertiesTests.ClientCertificate();
        File.WriteAllText(Path.Combine(folder, "client.pem"), certificate);
        File.WriteAllText(Path.Combine(folder, "client.key"), key);

        var options = Secured(("security.protocol", "SSL"), ("ssl.ca.location", Path.Combine(folder, "ca.pem")),
            ("ssl.certificate.location", Path.Combine(folder, "client.pem")), ("ssl.key.location", Path.Combine(folder, "client.key")));

        Assert.Equal(DefaultJobWith(
            "'properties.security.protocol' = 'SSL'",
            "'properties.ssl.truststore.type' = 'PEM'",
            "'properties.ssl.truststore.location' = '/etc/ctr/kafka/ca.pem'",
            "'properties.ssl.keystore.type' = 'PEM'",
            $"'properties.ssl.keystore.certificate.chain' = '{certificate}'",
            $"'properties.ssl.keystore.key' = '{key}'"),
            Statements(new PipelineSettings(), options));
        var masked = FlinkSqlJob.Mask(Statements(new PipelineSettings(), options)[9], options);
        Assert.Contains("'properties.ssl.keystore.key' = '***'", masked);
        Assert.Contains(certificate, masked);
        Assert.DoesNotContain("PRIVATE KEY", masked);
    }

    [Fact]
    public void Masking_hides_a_secret_as_written_in_a_sql_literal_and_as_flink_would_quote_it()
    {
        var options = Secured(("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanisms", "PLAIN"), ("sasl.username", "ctr"), ("sasl.password", "it's"));

        Assert.Equal("'properties.sasl.jaas.config' = '***'", FlinkSqlJob.Mask(
            "'properties.sasl.jaas.config' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.plain.PlainLoginModule required username=\"ctr\" password=\"it''s\";'", options));
        Assert.Equal("'sasl.jaas.config'='***', password ***", FlinkSqlJob.Mask(
            "'sasl.jaas.config'='org.apache.flink.kafka.shaded.org.apache.kafka.common.security.plain.PlainLoginModule required username=\"ctr\" password=\"it's\";', password it's", options));
    }

    [Fact]
    public void A_librdkafka_property_flink_cannot_be_given_is_refused_when_the_options_are_resolved()
    {
        var e = Assert.Throws<ConfigurationException>(() => Secured(("security.protocol", "SSL"), ("enable.ssl.certificate.verification", "false")));

        Assert.StartsWith("Kafka:Properties: the Kafka client property enable.ssl.certificate.verification cannot be given to Flink or Spark", e.Message);
    }
}
