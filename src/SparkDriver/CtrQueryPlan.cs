using System.Globalization;
using CtrPipeline.Contracts;
using Google.Protobuf;
using SparkDriver.Connect;

namespace SparkDriver;

/// <summary>
/// The CTR streaming query as a Spark Connect plan: the same tree a Spark DataFrame program builds.
/// Read Kafka (streaming) → parse the JSON value → keep well-formed views and clicks with a plausible event time →
/// watermark on event time →
/// inner join with the static catalog (CSV) on ad_id → count per (tumbling window, campaign) → the result row as JSON
/// with key campaign_id → Kafka sink, on a processing-time trigger, with a checkpoint. Expressions are Spark SQL text
/// (ExpressionString), which Spark's own parser resolves.
/// </summary>
public static class CtrQueryPlan
{
    public const string EventSchema = "event_id BIGINT, event_type STRING, ad_id INT, user_id INT, event_time BIGINT";
    public const string CatalogSchema = "ad_id INT, campaign_id INT, campaign_name STRING, advertiser STRING";

    public static Command StartCommand(PipelineSettings pipeline, SparkOptions spark)
    {
        var events = new Relation
        {
            Read = new Read
            {
                IsStreaming = true,
                DataSource = new Read.Types.DataSource
                {
                    Format = "kafka",
                    Options =
                    {
                        ["kafka.bootstrap.servers"] = spark.KafkaBootstrapServers,
                        ["subscribe"] = pipeline.Topics.Events,
                        ["startingOffsets"] = "earliest",
                        // A gap in the topic (retention) is reported in the progress, not a reason to stop the query.
                        ["failOnDataLoss"] = "false",
                    },
                },
            },
        };
        AddKafkaClient(events.Read.DataSource.Options, spark);
        var parsed = Project(events,
            $"from_json(CAST(value AS STRING), '{EventSchema}') AS e",
            "timestamp AS kafka_ts");
        var columns = Project(parsed,
            "e.event_type AS event_type",
            "e.ad_id AS ad_id",
            "e.event_time AS event_time",
            "timestamp_millis(e.event_time) AS event_ts",
            "kafka_ts");
        // Before the watermark, so that an event time that cannot be right (not positive, or further ahead of its Kafka
        // timestamp than the skew allows: a producer with a broken clock) never moves Spark's global watermark.
        var skewMs = ((long)pipeline.MaxEventTimeSkew.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        var valid = new Relation
        {
            Filter = new Filter
            {
                Input = columns,
                Condition = Sql($"event_time > 0 AND event_time <= unix_millis(kafka_ts) + {skewMs} AND ad_id IS NOT NULL AND event_type IN ('view', 'click')"),
            },
        };
        var watermarked = new Relation
        {
            WithWatermark = new WithWatermark { Input = valid, EventTime = "event_ts", DelayThreshold = Interval(pipeline.WatermarkDelay) },
        };
        var catalog = new Relation
        {
            Read = new Read
            {
                IsStreaming = false,
                DataSource = new Read.Types.DataSource
                {
                    Format = "csv",
                    Schema = CatalogSchema,
                    Options = { ["header"] = "true" },
                    Paths = { spark.CatalogPath },
                },
            },
        };
        var joined = new Relation
        {
            Join = new Join { Left = watermarked, Right = catalog, JoinType = Join.Types.JoinType.Inner, UsingColumns = { "ad_id" } },
        };
        var counted = new Relation
        {
            Aggregate = new Aggregate
            {
                Input = joined,
                GroupType = Aggregate.Types.GroupType.Groupby,
                GroupingExpressions = { Sql($"window(event_ts, '{Interval(pipeline.WindowSize)}') AS window"), Sql("campaign_id") },
                AggregateExpressions =
                {
                    Sql("count_if(event_type = 'view') AS views"),
                    Sql("count_if(event_type = 'click') AS clicks"),
                    Sql("max(kafka_ts) AS max_kafka_ts"),
                },
            },
        };
        // computed_at: current_timestamp() is the micro-batch's timestamp in Structured Streaming (see README).
        var final = spark.OutputMode == "append" ? "true" : "false";
        // END is a reserved word once ANSI mode enforces reserved keywords (spark.sql.ansi.enabled with
        // spark.sql.ansi.enforceReservedKeywords): a bare window.end then fails to parse. Quoted, it parses either way.
        var rows = Project(counted,
            "CAST(campaign_id AS STRING) AS key",
            "to_json(named_struct("
            + $"'engine', '{Engines.Spark}', "
            + "'window_start', unix_millis(`window`.`start`), "
            + "'window_end', unix_millis(`window`.`end`), "
            + "'campaign_id', campaign_id, "
            + "'views', views, "
            + "'clicks', clicks, "
            + "'ctr', CASE WHEN views = 0 THEN 0D ELSE clicks / views END, "
            + "'max_event_kafka_ts', unix_millis(max_kafka_ts), "
            + "'computed_at', unix_millis(current_timestamp()), "
            + $"'final', {final})) AS value");

        var start = new Command
        {
            WriteStreamOperationStart = new WriteStreamOperationStart
            {
                Input = rows,
                Format = "kafka",
                Options =
                {
                    ["kafka.bootstrap.servers"] = spark.KafkaBootstrapServers,
                    ["topic"] = pipeline.Topics.Results,
                    ["checkpointLocation"] = spark.CheckpointLocation,
                },
                ProcessingTimeInterval = Interval(pipeline.TriggerInterval),
                OutputMode = spark.OutputMode,
                QueryName = spark.QueryName,
            },
        };
        AddKafkaClient(start.WriteStreamOperationStart.Options, spark);
        return start;
    }

    /// <summary>
    /// The plan as JSON (indented for a reader), every Kafka secret as <c>***</c>: each secret is found in the form
    /// the formatter writes strings in (quotes and line breaks escaped).
    /// </summary>
    public static string Json(Command start, SparkOptions spark, bool indented = false)
    {
        var json = new JsonFormatter(indented ? JsonFormatter.Settings.Default.WithIndentation() : JsonFormatter.Settings.Default).Format(start);
        foreach (var secret in spark.KafkaClient.Secrets)
            json = json.Replace(JsonFormatter.Default.Format(new Google.Protobuf.WellKnownTypes.StringValue { Value = secret })[1..^1], KafkaClientProperties.Masked, StringComparison.Ordinal);
        return json;
    }

    /// <summary>The Kafka source's and sink's clients take the client properties as kafka.&lt;Java name&gt; options.</summary>
    private static void AddKafkaClient(IDictionary<string, string> options, SparkOptions spark)
    {
        foreach (var (name, value) in spark.KafkaClient.Properties) options["kafka." + name] = value;
    }

    /// <summary>A Spark interval string: "10 seconds", "500 milliseconds".</summary>
    public static string Interval(TimeSpan span) =>
        span.Ticks % TimeSpan.TicksPerSecond == 0
            ? $"{((long)span.TotalSeconds).ToString(CultureInfo.InvariantCulture)} seconds"
            : $"{((long)span.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)} milliseconds";

    private static Relation Project(Relation input, params string[] expressions)
    {
        var project = new Project { Input = input };
        project.Expressions.AddRange(expressions.Select(Sql));
        return new Relation { Project = project };
    }

    private static Expression Sql(string expression) => new() { ExpressionString = new Expression.Types.ExpressionString { Expression = expression } };
}
