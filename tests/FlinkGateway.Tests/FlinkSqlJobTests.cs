using CtrPipeline.Contracts;

namespace FlinkGateway.Tests;

/// <summary>The SQL the engine submits, from the configuration: the whole job for the defaults, the parts that vary otherwise.</summary>
public sealed class FlinkSqlJobTests
{
    private static FlinkOptions Options(string kafka = "kafka:9093") => new() { KafkaBootstrapServers = kafka, GatewayUrl = "http://localhost:8083" };

    /// <summary>A small catalog: ads 1 and 2 in campaign 1, ad 3 in campaign 2.</summary>
    internal static readonly CampaignCatalog Catalog = new([new(2, 1, "c1", "a1"), new(1, 1, "c1", "a1"), new(3, 2, "c2", "a2")]);

    private static IReadOnlyList<string> Statements(PipelineSettings pipeline, FlinkOptions options) => FlinkSqlJob.Statements(pipeline, options, Catalog);

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
            CREATE TEMPORARY VIEW `campaign_events` AS
            SELECT `campaign_id`, `event_type`, `event_ts`, `kafka_ts`
            FROM (
              SELECT CASE
                WHEN `ad_id` IN (1, 2) THEN 1
                WHEN `ad_id` IN (3) THEN 2
              END AS `campaign_id`, `event_type`, `event_ts`, `kafka_ts`
              FROM `valid_events`
            )
            WHERE `campaign_id` IS NOT NULL
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
        Assert.StartsWith("INSERT INTO `ctr_results`", statements[^1]);
    }

    [Fact]
    public void An_event_time_beyond_the_skew_ahead_of_its_kafka_timestamp_neither_counts_nor_moves_the_watermark()
    {
        var statements = Statements(new PipelineSettings { MaxEventTimeSkew = TimeSpan.FromSeconds(30) }, Options());
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

        var sink = Statements(new PipelineSettings(), options).Single(s => s.StartsWith("CREATE TEMPORARY TABLE `ctr_results`", StringComparison.Ordinal));

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
}
