using System.Globalization;
using CtrPipeline.Contracts;

namespace FlinkGateway;

/// <summary>
/// The CTR job as Flink SQL statements, in the order the gateway runs them: session settings, the events source, the
/// join with the campaign catalog, the result sink, and the INSERT that starts the job. Everything configurable comes
/// from <see cref="PipelineSettings"/> (window, watermark, idle timeout, topics), <see cref="FlinkOptions"/> and the
/// <see cref="CampaignCatalog"/>.
/// </summary>
/// <remarks>
/// Why the catalog is written into the job as a CASE on ad_id rather than read as a table: the join is then a
/// stateless projection, and the job has one source, Kafka, whose watermark alone drives the windows. A regular join
/// drops the time attribute (no window could follow it), and an event-time temporal join with a bounded catalog table
/// stalls: the finished catalog source emits the end-of-input watermark (Long.MAX_VALUE), and once every Kafka
/// partition is idle the join's combined watermark is that MAX, after which no join timer fires (FLINK-38477); at start
/// an event could also pass the join before the catalog was loaded. Epoch milliseconds come back out of TIMESTAMP values through
/// DATE_FORMAT, because Flink allows no CAST from TIMESTAMP or TIMESTAMP_LTZ to BIGINT; the session time zone is UTC
/// for that, and TIMESTAMP_LTZ values are cast to TIMESTAMP(3) in it first. Every identifier is quoted with
/// backticks: Flink reserves many common words (VIEWS among them, a column of the result), and a reserved word used
/// bare fails the statement in Flink's parser.
/// </remarks>
public static class FlinkSqlJob
{
    public static IReadOnlyList<string> Statements(PipelineSettings pipeline, FlinkOptions flink, CampaignCatalog catalog)
    {
        var topics = pipeline.Topics;
        var parallelism = flink.EffectiveParallelism(pipeline);
        var kafka = Literal(flink.KafkaBootstrapServers);
        // Every table's Kafka clients (consumer, producers, the enumerator's admin client) get the same security settings.
        var client = string.Concat(flink.KafkaClient.Properties.Select(p => $"\n  {Literal("properties." + p.Key)} = {Literal(p.Value)},"));
        // An event time that cannot be right (not after the epoch, or further ahead of its Kafka timestamp than the skew
        // allows) neither counts nor moves the watermark: for it the watermark expression is NULL, which Flink's
        // watermark generator ignores.
        var plausible = $"`event_ts` > TO_TIMESTAMP_LTZ(0, 3) AND `event_ts` <= `kafka_ts` + {Interval(pipeline.MaxEventTimeSkew)}";
        var valid = $"`event_id` IS NOT NULL AND `event_type` IN ('view', 'click') AND `ad_id` IS NOT NULL AND `user_id` IS NOT NULL AND `event_time` IS NOT NULL AND {plausible} AND `campaign_id` IS NOT NULL";
        return
        [
            Set("table.local-time-zone", "UTC"),
            Set("pipeline.name", flink.JobName),
            Set("parallelism.default", parallelism.ToString(CultureInfo.InvariantCulture)),
            Set("table.exec.source.idle-timeout", Duration(pipeline.IdleTimeout)),
            Set("execution.checkpointing.interval", Duration(flink.CheckpointInterval)),
            // A directory on storage the JobManager and TaskManagers share: without one, checkpoints go to the
            // JobManager's memory (JobManagerCheckpointStorage, 5 MiB per subtask), and larger state fails the
            // checkpoint and, with no tolerated checkpoint failures, the job. Each key under its Flink 1.20 name
            // and the name before it (still read in 1.20 as a deprecated key).
            Set("execution.checkpointing.dir", flink.CheckpointDirectory),
            Set("state.checkpoints.dir", flink.CheckpointDirectory),
            Set("execution.checkpointing.savepoint-dir", flink.SavepointDirectory),
            Set("state.savepoints.dir", flink.SavepointDirectory),
            // The value is read as raw bytes and parsed here, because Flink's JSON format is lenient where the contract
            // is strict: it reads "ad_id":"7" as 7, truncates 7.5 to 7, and turns a field it cannot read into NULL
            // instead of refusing the record. The rowtime is never NULL (Flink fails the job on a NULL rowtime): an
            // event_time that is not a positive integer of at most 14 digits (before the year 5138, inside
            // TO_TIMESTAMP_LTZ's range, which ends with the year 9999) becomes the epoch, which is not plausible.
            $"""
            CREATE TEMPORARY TABLE `events` (
              `key` BYTES,
              `value` BYTES,
              `kafka_ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
              `event_ts` AS TO_TIMESTAMP_LTZ(COALESCE({JsonInteger("event_time", "BIGINT", "[0-9]{1,14}")}, 0), 3),
              WATERMARK FOR `event_ts` AS CASE WHEN {plausible} THEN `event_ts` - {Interval(pipeline.WatermarkDelay)} END
            ) WITH (
              'connector' = 'kafka',
              'topic' = {Literal(topics.Events)},
              'properties.bootstrap.servers' = {kafka},{client}
              'properties.group.id' = {Literal(flink.GroupId)},
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
              {JsonInteger("event_id", "BIGINT")} AS `event_id`,
              JSON_VALUE({Json}, '$.event_type') AS `event_type`,
              {JsonInteger("ad_id", "INT")} AS `ad_id`,
              {JsonInteger("user_id", "INT")} AS `user_id`,
              {JsonInteger("event_time", "BIGINT")} AS `event_time`
            FROM `events`
            """,
            // Every record gets its campaign (NULL for an ad the catalog does not know) and an error, NULL when it counts.
            $"""
            CREATE TEMPORARY VIEW `checked_events` AS
            SELECT `key`, `value`, `kafka_ts`, `event_ts`, `event_type`, `campaign_id`,
              CASE
                WHEN {valid} THEN CAST(NULL AS STRING)
                WHEN NOT ({Json} IS JSON OBJECT) THEN 'malformed: not a JSON object'
                WHEN `event_id` IS NULL THEN 'malformed: event_id must be a 64-bit integer'
                WHEN `event_type` IS NULL OR `event_type` NOT IN ('view', 'click') THEN 'malformed: event_type must be "view" or "click" (case-sensitive)'
                WHEN `ad_id` IS NULL THEN 'malformed: ad_id must be a 32-bit integer'
                WHEN `user_id` IS NULL THEN 'malformed: user_id must be a 32-bit integer'
                WHEN `event_time` IS NULL THEN 'malformed: event_time must be a 64-bit integer'
                WHEN NOT ({plausible}) THEN 'event time out of range'
                ELSE 'unknown ad_id ' || CAST(`ad_id` AS STRING)
              END AS `error`
            FROM (
              SELECT `key`, `value`, `kafka_ts`, `event_ts`, `event_id`, `event_type`, `ad_id`, `user_id`, `event_time`,
                {CampaignOf("ad_id", catalog)} AS `campaign_id`
              FROM `event_fields`
            )
            """,
            """
            CREATE TEMPORARY VIEW `campaign_events` AS
            SELECT `campaign_id`, `event_type`, `event_ts`, `kafka_ts`
            FROM `checked_events`
            WHERE `error` IS NULL
            """,
            $"""
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
              'topic' = {Literal(topics.Results)},
              'properties.bootstrap.servers' = {kafka},{client}
              'key.format' = 'raw',
              'key.fields' = 'result_key',
              'value.format' = 'json',
              'value.fields-include' = 'EXCEPT_KEY'{SinkGuarantee(flink, flink.JobName)}
            )
            """,
            $"""
            CREATE TEMPORARY TABLE `events_dlq` (
              `key` BYTES,
              `value` BYTES,
              `headers` MAP<STRING, BYTES> METADATA
            ) WITH (
              'connector' = 'kafka',
              'topic' = {Literal(topics.DeadLetters)},
              'properties.bootstrap.servers' = {kafka},{client}
              'key.format' = 'raw',
              'key.fields' = 'key',
              'value.format' = 'raw',
              'value.fields-include' = 'EXCEPT_KEY'{SinkGuarantee(flink, flink.JobName + "-dlq")}
            )
            """,
            // computed_at is taken once per row in its own projection: the epoch conversion reads its value twice, and
            // two evaluations of the clock could straddle a second. Flink does not merge projections that would
            // evaluate a non-deterministic function more than once.
            // One job for both INSERTs (Flink reads the source once for both): the counts, and the records that do
            // not count, unchanged, with their reason, as the other engines dead-letter them.
            $"""
            EXECUTE STATEMENT SET
            BEGIN
            INSERT INTO `ctr_results`
            SELECT
              CAST(`campaign_id` AS STRING),
              {Literal(Engines.Flink)},
              {EpochMillis("window_start")},
              {EpochMillis("window_end")},
              `campaign_id`,
              `views`,
              `clicks`,
              CASE WHEN `views` = 0 THEN 0E0 ELSE CAST(`clicks` AS DOUBLE) / `views` END,
              {EpochMillis("max_event_kafka_ts")},
              {EpochMillis("computed_at")},
              TRUE
            FROM (
              SELECT `window_start`, `window_end`, `campaign_id`, `views`, `clicks`, `max_event_kafka_ts`,
                CAST(CURRENT_ROW_TIMESTAMP() AS TIMESTAMP(3)) AS `computed_at`
              FROM (
                SELECT `window_start`, `window_end`, `campaign_id`,
                  COUNT(*) FILTER (WHERE `event_type` = 'view') AS `views`,
                  COUNT(*) FILTER (WHERE `event_type` = 'click') AS `clicks`,
                  CAST(MAX(`kafka_ts`) AS TIMESTAMP(3)) AS `max_event_kafka_ts`
                FROM TABLE(TUMBLE(TABLE `campaign_events`, DESCRIPTOR(`event_ts`), {Interval(pipeline.WindowSize)}))
                GROUP BY `window_start`, `window_end`, `campaign_id`
              )
            );
            INSERT INTO `events_dlq`
            SELECT `key`, `value`, MAP[CAST('engine' AS STRING), ENCODE({Literal(Engines.Flink)}, 'UTF-8'), CAST('error' AS STRING), ENCODE(`error`, 'UTF-8')]
            FROM `checked_events`
            WHERE `error` IS NOT NULL;
            END
            """,
        ];
    }

    /// <summary>The record's value as JSON text.</summary>
    private const string Json = "DECODE(`value`, 'UTF-8')";

    /// <summary>
    /// A field that must be a JSON integer, as <paramref name="type"/>; NULL when it is missing, null, out of the type's
    /// range, or anything but an integer literal: a string ("7"), a fraction (7.5, 7.0), an array, an object. JSON_QUERY
    /// with an unconditional array wrapper gives the field as JSON text in brackets, ["7"] for a string and [7] for a
    /// number; <paramref name="digits"/> is what may stand between the brackets.
    /// </summary>
    public static string JsonInteger(string field, string type, string digits = "-?[0-9]+") =>
        $"TRY_CAST(REGEXP_EXTRACT(JSON_QUERY({Json}, '$.{field}' WITH UNCONDITIONAL ARRAY WRAPPER), '^\\[({digits})\\]$', 1) AS {type})";

    /// <summary>
    /// The sink's delivery guarantee. Exactly-once writes each checkpoint's rows in a Kafka transaction committed when
    /// the checkpoint completes (two-phase commit); its transaction timeout must stay within the broker's
    /// transaction.max.timeout.ms (15 minutes by default), well below the connector's own default of one hour.
    /// Each sink needs its own transactional-id prefix: two sinks with one prefix would fence each other's producers.
    /// </summary>
    private static string SinkGuarantee(FlinkOptions flink, string transactionalIdPrefix) => flink.DeliveryGuarantee == FlinkOptions.ExactlyOnce
        ? $",\n  'sink.delivery-guarantee' = 'exactly-once',\n  'sink.transactional-id-prefix' = {Literal(transactionalIdPrefix)},\n  'properties.transaction.timeout.ms' = '900000'"
        : ",\n  'sink.delivery-guarantee' = 'at-least-once'";

    /// <summary>
    /// The campaign of the ad in <paramref name="column"/>, as the catalog maps it: one WHEN per campaign with its ads
    /// in an IN list (Flink keeps IN lists as expressions, never as a join: its SqlToRelConverter's in-sub-query
    /// threshold is Integer.MAX_VALUE), NULL for an ad the catalog does not know.
    /// </summary>
    public static string CampaignOf(string column, CampaignCatalog catalog) =>
        "CASE" + string.Concat(catalog.Ads.GroupBy(ad => ad.CampaignId).OrderBy(campaign => campaign.Key).Select(campaign =>
            $"\n      WHEN `{column}` IN ({string.Join(", ", campaign.Select(ad => ad.AdId).Order())}) THEN {campaign.Key}")) + "\n    END";

    /// <summary>Makes the next job of the session start from a savepoint: its window state and its Kafka offsets.</summary>
    public static string ResumeFrom(string savepointPath) => Set("execution.savepoint.path", savepointPath);

    /// <summary>Stops a job with a savepoint in the session's savepoint directory; the gateway answers with its path.</summary>
    public static string StopWithSavepoint(string jobId) => $"STOP JOB {Literal(jobId)} WITH SAVEPOINT";

    /// <summary>
    /// <paramref name="text"/> (a statement, or Flink's error about one) with every Kafka secret as <c>***</c>, both as
    /// given and as written in a SQL literal (quotes doubled).
    /// </summary>
    public static string Mask(string text, FlinkOptions flink) =>
        flink.KafkaClient.Mask(flink.KafkaClient.Secrets.Aggregate(text, (masked, secret) =>
            masked.Replace(secret.Replace("'", "''"), KafkaClientProperties.Masked, StringComparison.Ordinal)));

    /// <summary>A SQL string literal.</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''") + "'";

    /// <summary>An interval literal in seconds (fractions allowed; the leading precision widened past 99 s).</summary>
    public static string Interval(TimeSpan span)
    {
        var seconds = (decimal)span.Ticks / TimeSpan.TicksPerSecond;
        var text = seconds.ToString("0.###", CultureInfo.InvariantCulture);
        var whole = decimal.Truncate(seconds).ToString(CultureInfo.InvariantCulture).Length;
        return whole > 2 ? $"INTERVAL '{text}' SECOND({whole})" : $"INTERVAL '{text}' SECOND";
    }

    /// <summary>A Flink configuration duration: whole seconds as "N s", anything finer in milliseconds.</summary>
    public static string Duration(TimeSpan span) =>
        span.Ticks % TimeSpan.TicksPerSecond == 0
            ? $"{(long)span.TotalSeconds} s"
            : $"{(long)span.TotalMilliseconds} ms";

    /// <summary>A TIMESTAMP(3) column as epoch milliseconds (BIGINT), read in the session's time zone, UTC.</summary>
    public static string EpochMillis(string column) =>
        $"UNIX_TIMESTAMP(DATE_FORMAT(`{column}`, 'yyyy-MM-dd HH:mm:ss')) * 1000 + CAST(DATE_FORMAT(`{column}`, 'SSS') AS BIGINT)";

    private static string Set(string key, string value) => $"SET {Literal(key)} = {Literal(value)}";
}
