using CtrPipeline.Contracts;

namespace FlinkGateway.Tests;

/// <summary>The SQL the engine submits, from the configuration: the whole job for the defaults, the parts that vary otherwise.</summary>
public sealed class FlinkSqlJobTests
{
    private static FlinkOptions Options(string kafka = "kafka:9093") => new() { KafkaBootstrapServers = kafka, GatewayUrl = "http://localhost:8083" };

    private const string EpochMillisOfWindowStart =
        "UNIX_TIMESTAMP(DATE_FORMAT(`window_start`, 'yyyy-MM-dd HH:mm:ss')) * 1000 + CAST(DATE_FORMAT(`window_start`, 'SSS') AS BIGINT)";

    [Fact]
    public void Default_configuration_submits_exactly_this_job()
    {
        var statements = FlinkSqlJob.Statements(new PipelineSettings(), Options());

        string[] expected =
        [
            "SET 'table.local-time-zone' = 'UTC'",
            "SET 'pipeline.name' = 'ctr-pipeline'",
            "SET 'parallelism.default' = '4'",
            "SET 'table.exec.source.idle-timeout' = '5 s'",
            "SET 'execution.checkpointing.interval' = '10 s'",
            """
            CREATE TEMPORARY TABLE `events` (
              `event_id` BIGINT,
              `event_type` STRING,
              `ad_id` INT,
              `user_id` INT,
              `event_time` BIGINT,
              `kafka_ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
              `event_ts` AS TO_TIMESTAMP_LTZ(COALESCE(`event_time`, 0), 3),
              WATERMARK FOR `event_ts` AS CASE WHEN `event_time` > 0 AND `event_ts` <= `kafka_ts` + INTERVAL '300' SECOND(3) THEN `event_ts` - INTERVAL '2' SECOND END
            ) WITH (
              'connector' = 'kafka',
              'topic' = 'events',
              'properties.bootstrap.servers' = 'kafka:9093',
              'properties.group.id' = 'ctr-flink',
              'scan.startup.mode' = 'group-offsets',
              'properties.auto.offset.reset' = 'earliest',
              'format' = 'json',
              'json.ignore-parse-errors' = 'true'
            )
            """,
            """
            CREATE TEMPORARY VIEW `valid_events` AS
            SELECT `event_type`, `ad_id`, `event_ts`, `kafka_ts`
            FROM `events`
            WHERE `ad_id` IS NOT NULL AND `event_type` IN ('view', 'click') AND `event_time` > 0 AND `event_ts` <= `kafka_ts` + INTERVAL '300' SECOND(3)
            """,
            """
            CREATE TEMPORARY TABLE `campaigns` (
              `ad_id` INT NOT NULL,
              `campaign_id` INT NOT NULL,
              `campaign_name` STRING,
              `advertiser` STRING,
              `valid_from` AS TO_TIMESTAMP_LTZ(0, 3),
              WATERMARK FOR `valid_from` AS `valid_from`,
              PRIMARY KEY (`ad_id`) NOT ENFORCED
            ) WITH (
              'connector' = 'filesystem',
              'path' = 'file:///opt/ctr/campaigns.csv',
              'format' = 'csv'
            )
            """,
            """
            CREATE TEMPORARY VIEW `campaign_events` AS
            SELECT `c`.`campaign_id`, `e`.`event_type`, `e`.`event_ts`, `e`.`kafka_ts`
            FROM `valid_events` AS `e`
            JOIN `campaigns` FOR SYSTEM_TIME AS OF `e`.`event_ts` AS `c` ON `e`.`ad_id` = `c`.`ad_id`
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
            $"""
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
            )
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

        var sql = string.Join("\n;\n", FlinkSqlJob.Statements(pipeline, options));

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
        options.CatalogPath = "s3://bucket/campaign's.csv";
        options.JobName = "ctr-bench";
        options.GroupId = "flink-bench";
        options.Parallelism = 2;

        var statements = FlinkSqlJob.Statements(pipeline, options);
        var events = statements.Single(s => s.StartsWith("CREATE TEMPORARY TABLE `events`", StringComparison.Ordinal));
        var sink = statements.Single(s => s.StartsWith("CREATE TEMPORARY TABLE `ctr_results`", StringComparison.Ordinal));

        Assert.Contains("'topic' = 'ad_events'", events);
        Assert.Contains("'properties.bootstrap.servers' = 'broker-1:9092,broker-2:9092'", events);
        Assert.Contains("'properties.group.id' = 'flink-bench'", events);
        Assert.Contains("'topic' = 'ctr_out'", sink);
        Assert.Contains("'properties.bootstrap.servers' = 'broker-1:9092,broker-2:9092'", sink);
        Assert.Contains("'path' = 's3://bucket/campaign''s.csv'", string.Join("\n", statements));
        Assert.Contains("SET 'pipeline.name' = 'ctr-bench'", statements);
        Assert.Contains("SET 'parallelism.default' = '2'", statements); // Flink:Parallelism wins over the partitions
        Assert.StartsWith("INSERT INTO `ctr_results`", statements[^1]);
    }

    [Fact]
    public void An_event_time_beyond_the_skew_ahead_of_its_kafka_timestamp_neither_counts_nor_moves_the_watermark()
    {
        var statements = FlinkSqlJob.Statements(new PipelineSettings { MaxEventTimeSkew = TimeSpan.FromSeconds(30) }, Options());
        const string plausible = "`event_time` > 0 AND `event_ts` <= `kafka_ts` + INTERVAL '30' SECOND";

        var events = statements.Single(s => s.StartsWith("CREATE TEMPORARY TABLE `events`", StringComparison.Ordinal));
        Assert.Contains($"WATERMARK FOR `event_ts` AS CASE WHEN {plausible} THEN `event_ts` - INTERVAL '2' SECOND END", events);
        Assert.Contains("`event_ts` AS TO_TIMESTAMP_LTZ(COALESCE(`event_time`, 0), 3)", events); // never a NULL rowtime
        Assert.EndsWith($"AND {plausible}", statements.Single(s => s.StartsWith("CREATE TEMPORARY VIEW `valid_events`", StringComparison.Ordinal)));
    }

    [Fact]
    public void Exactly_once_makes_the_sink_transactional_within_the_brokers_default_transaction_limit()
    {
        var options = Options();
        options.DeliveryGuarantee = FlinkOptions.ExactlyOnce;
        options.JobName = "ctr-bench";

        var sink = FlinkSqlJob.Statements(new PipelineSettings(), options).Single(s => s.StartsWith("CREATE TEMPORARY TABLE `ctr_results`", StringComparison.Ordinal));

        Assert.EndsWith("""
              'value.fields-include' = 'EXCEPT_KEY',
              'sink.delivery-guarantee' = 'exactly-once',
              'sink.transactional-id-prefix' = 'ctr-bench',
              'properties.transaction.timeout.ms' = '900000'
            )
            """, sink);
    }

    [Fact]
    public void The_clock_is_read_once_per_row()
    {
        var insert = FlinkSqlJob.Statements(new PipelineSettings(), Options())[^1];
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(insert, "CURRENT_ROW_TIMESTAMP"));
    }

    [Fact]
    public void The_default_catalog_path_is_where_the_repository_flink_image_puts_the_catalog()
    {
        var repository = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));
        var dockerfile = File.ReadAllText(Path.Combine(repository, "flink", "Dockerfile"));
        var path = new Uri(new FlinkOptions().CatalogPath).LocalPath;
        Assert.Equal("/opt/ctr/campaigns.csv", path);
        Assert.Contains($"> {path}", dockerfile);
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
}
