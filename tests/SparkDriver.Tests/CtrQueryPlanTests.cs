using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;
using SparkDriver.Connect;

namespace SparkDriver.Tests;

/// <summary>The plan's structure from the configuration, as the server receives it (see also SparkConnectProtocolTests).</summary>
public sealed class CtrQueryPlanTests
{
    internal static SparkOptions Options(string kafka = "kafka:9093", PipelineSettings? pipeline = null) => new SparkOptions { KafkaBootstrapServers = kafka }
        .Resolve(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), pipeline ?? new PipelineSettings(), requireEndpoint: false);

    internal static IEnumerable<string> Sql(IEnumerable<Expression> expressions) => expressions.Select(e => e.ExpressionString.Expression);

    /// <summary>Asserts the whole tree for a configuration; returns nothing, throws on the first difference.</summary>
    internal static void AssertPlan(Command command, PipelineSettings pipeline, SparkOptions spark, string window, string watermark, string trigger, string final)
    {
        var write = command.WriteStreamOperationStart;
        Assert.NotNull(write);
        Assert.Equal("kafka", write.Format);
        Assert.Equal(new Dictionary<string, string>(KafkaClient(spark))
        {
            ["kafka.bootstrap.servers"] = spark.KafkaBootstrapServers,
            ["topic"] = pipeline.Topics.Results,
            ["checkpointLocation"] = spark.CheckpointLocation,
        }, write.Options);
        Assert.Equal(trigger, write.ProcessingTimeInterval);
        Assert.Equal(spark.OutputMode, write.OutputMode);
        Assert.Equal(spark.QueryName, write.QueryName);

        // Result rows: key campaign_id, value the result contract as JSON.
        var rows = write.Input.Project;
        var output = Sql(rows.Expressions).ToList();
        Assert.Equal("CAST(campaign_id AS STRING) AS key", output[0]);
        Assert.StartsWith("to_json(named_struct('engine', 'spark', ", output[1]);
        foreach (var field in new[] { "window_start", "window_end", "campaign_id", "views", "clicks", "ctr", "max_event_kafka_ts", "computed_at", "final" })
            Assert.Contains($"'{field}', ", output[1]);
        Assert.Contains("'computed_at', unix_millis(current_timestamp())", output[1]);
        // END is reserved under ANSI mode's reserved keywords: the window's fields are quoted.
        Assert.Contains("'window_start', unix_millis(`window`.`start`), 'window_end', unix_millis(`window`.`end`), ", output[1]);
        Assert.Contains("'max_event_kafka_ts', unix_millis(max_kafka_ts)", output[1]);
        Assert.EndsWith($"'final', {final})) AS value", output[1]);

        // Windowed counts per campaign.
        var aggregate = rows.Input.Aggregate;
        Assert.Equal(Aggregate.Types.GroupType.Groupby, aggregate.GroupType);
        Assert.Equal([$"window(event_ts, '{window}') AS window", "campaign_id"], Sql(aggregate.GroupingExpressions));
        Assert.Equal(["count_if(event_type = 'view') AS views", "count_if(event_type = 'click') AS clicks", "max(kafka_ts) AS max_kafka_ts"],
            Sql(aggregate.AggregateExpressions));

        // Stream-static inner join on ad_id with the catalog, read once as CSV.
        var join = aggregate.Input.Join;
        Assert.Equal(Join.Types.JoinType.Inner, join.JoinType);
        Assert.Equal(["ad_id"], join.UsingColumns);
        var catalog = join.Right.Read;
        Assert.False(catalog.IsStreaming);
        Assert.Equal("csv", catalog.DataSource.Format);
        Assert.Equal(CtrQueryPlan.CatalogSchema, catalog.DataSource.Schema);
        Assert.Equal("true", catalog.DataSource.Options["header"]);
        Assert.Equal([spark.CatalogPath], catalog.DataSource.Paths);

        // Event time, watermark, well-formed events, JSON parsed from the Kafka value, the Kafka source.
        var watermarked = join.Left.WithWatermark;
        Assert.Equal(("event_ts", watermark), (watermarked.EventTime, watermarked.DelayThreshold));
        var filter = watermarked.Input.Filter;
        Assert.Equal($"event_time > 0 AND event_time <= unix_millis(kafka_ts) + {(long)pipeline.MaxEventTimeSkew.TotalMilliseconds} AND ad_id IS NOT NULL AND event_type IN ('view', 'click')",
            filter.Condition.ExpressionString.Expression);
        var columns = filter.Input.Project;
        Assert.Equal(["e.event_type AS event_type", "e.ad_id AS ad_id", "e.event_time AS event_time", "timestamp_millis(e.event_time) AS event_ts", "kafka_ts"],
            Sql(columns.Expressions));
        var parsed = columns.Input.Project;
        Assert.Equal([$"from_json(CAST(value AS STRING), '{CtrQueryPlan.EventSchema}') AS e", "timestamp AS kafka_ts"], Sql(parsed.Expressions));
        var source = parsed.Input.Read;
        Assert.True(source.IsStreaming);
        Assert.Equal("kafka", source.DataSource.Format);
        Assert.Equal(new Dictionary<string, string>(KafkaClient(spark))
        {
            ["kafka.bootstrap.servers"] = spark.KafkaBootstrapServers,
            ["subscribe"] = pipeline.Topics.Events,
            ["startingOffsets"] = "earliest",
            ["failOnDataLoss"] = "false",
        }, source.DataSource.Options);
    }

    /// <summary>The Kafka client properties as the source's and sink's kafka.* options.</summary>
    private static IEnumerable<KeyValuePair<string, string>> KafkaClient(SparkOptions spark) =>
        spark.KafkaClient.Properties.Select(p => KeyValuePair.Create("kafka." + p.Key, p.Value));

    /// <summary>Options for a secured cluster: Kafka:Properties:&lt;name&gt; in librdkafka's names.</summary>
    internal static SparkOptions Secured(params (string Name, string Value)[] properties) =>
        new SparkOptions { KafkaBootstrapServers = "kafka:9093" }.Resolve(new ConfigurationBuilder().AddInMemoryCollection(
            properties.Select(p => KeyValuePair.Create($"Kafka:Properties:{p.Name}", (string?)p.Value))).Build(), new PipelineSettings(), requireEndpoint: false);

    /// <summary>The kafka.* options (but the bootstrap servers) of the plan's Kafka source and of its sink, which must agree.</summary>
    private static Dictionary<string, string> KafkaOptions(Command command)
    {
        static Dictionary<string, string> Client(IDictionary<string, string> options) =>
            options.Where(o => o.Key.StartsWith("kafka.", StringComparison.Ordinal) && o.Key != "kafka.bootstrap.servers").ToDictionary();
        var sink = Client(command.WriteStreamOperationStart.Options);
        Assert.Equal(sink, Client(Source(command).Options));
        return sink;
    }

    private static Read.Types.DataSource Source(Command command) =>
        command.WriteStreamOperationStart.Input.Project.Input.Aggregate.Input.Join.Left.WithWatermark.Input.Filter.Input.Project.Input.Project.Input.Read.DataSource;

    [Fact]
    public void Default_configuration()
    {
        var pipeline = new PipelineSettings();
        var spark = Options();
        var command = CtrQueryPlan.StartCommand(pipeline, spark);
        AssertPlan(command, pipeline, spark, "10 seconds", "2 seconds", "1 seconds", "true");
        var filter = command.WriteStreamOperationStart.Input.Project.Input.Aggregate.Input.Join.Left.WithWatermark.Input.Filter;
        Assert.Contains("event_time <= unix_millis(kafka_ts) + 300000 AND", filter.Condition.ExpressionString.Expression); // 5 minutes of skew
        Assert.Equal(("/opt/ctr/campaigns.csv", "/tmp/ctr-spark/checkpoints/ctr-pipeline", "append"), (spark.CatalogPath, spark.CheckpointLocation, spark.OutputMode));
    }

    [Fact]
    public void Non_default_configuration()
    {
        var pipeline = new PipelineSettings
        {
            WindowSize = TimeSpan.FromMinutes(1),
            WatermarkDelay = TimeSpan.FromMilliseconds(500),
            TriggerInterval = TimeSpan.FromSeconds(5),
            MaxEventTimeSkew = TimeSpan.FromSeconds(90),
            Topics = { Events = "ad_events", Results = "ctr_out" },
        };
        var spark = Options("broker-1:9092,broker-2:9092");
        spark.OutputMode = "update";
        spark.CatalogPath = "s3a://bucket/campaigns.csv";
        spark.CheckpointLocation = "s3a://bucket/checkpoints/ctr";
        spark.QueryName = "ctr-bench";

        AssertPlan(CtrQueryPlan.StartCommand(pipeline, spark), pipeline, spark, "60 seconds", "500 milliseconds", "5 seconds", "false");
    }

    [Fact]
    public void A_run_on_its_own_topics_has_its_own_checkpoint_unless_one_is_set()
    {
        var run = new PipelineSettings { Topics = new TopicNames().WithPrefix("run7") };

        var spark = Options(pipeline: run);
        var write = CtrQueryPlan.StartCommand(run, spark).WriteStreamOperationStart;

        Assert.Equal("/tmp/ctr-spark/checkpoints/ctr-pipeline-run7-events", write.Options["checkpointLocation"]);
        Assert.Equal("/tmp/ctr-spark/checkpoints/ctr-pipeline", Options().CheckpointLocation); // the default topics
        var odd = new PipelineSettings { Topics = { Events = "a/../b" } };
        Assert.Equal("/tmp/ctr-spark/checkpoints/ctr-pipeline-a_.._b", Options(pipeline: odd).CheckpointLocation); // never a path of its own
        var set = new SparkOptions { KafkaBootstrapServers = "kafka:9093", CheckpointLocation = "s3a://bucket/ctr" }
            .Resolve(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), run, requireEndpoint: false);
        Assert.Equal("s3a://bucket/ctr", set.CheckpointLocation);
    }

    [Theory]
    [InlineData("sc://localhost:15002", "http://localhost:15002/")]
    [InlineData("sc://spark", "http://spark:15002/")]
    [InlineData("sc://spark:443/;use_ssl=true;token=x", "https://spark/")]
    [InlineData("http://127.0.0.1:9000", "http://127.0.0.1:9000/")]
    public void Endpoints_in_spark_notation_or_as_urls(string endpoint, string expected) =>
        Assert.Equal(expected, SparkOptions.ParseEndpoint(endpoint).ToString());

    [Theory]
    [InlineData("localhost:15002")]
    [InlineData("ftp://spark:21")]
    public void Bad_endpoints_are_refused_with_the_forms_that_work(string endpoint)
    {
        var e = Assert.Throws<ConfigurationException>(() => SparkOptions.ParseEndpoint(endpoint));
        Assert.Contains("must be sc://host:port or http://host:port", e.Message);
    }

    [Fact]
    public void Sasl_plain_names_the_login_module_of_kafka_clients_unrelocated()
    {
        var spark = Secured(("security.protocol", "SASL_SSL"), ("sasl.mechanisms", "PLAIN"), ("sasl.username", "ctr"), ("sasl.password", "pw"));

        Assert.Equal(new Dictionary<string, string>
        {
            ["kafka.security.protocol"] = "SASL_SSL",
            ["kafka.sasl.mechanism"] = "PLAIN",
            ["kafka.sasl.jaas.config"] = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"ctr\" password=\"pw\";",
        }, KafkaOptions(CtrQueryPlan.StartCommand(new PipelineSettings(), spark)));
    }

    [Fact]
    public void Scram_sha_512_over_ssl_trusts_the_ca_file_where_the_server_sees_it()
    {
        var spark = Secured(("security.protocol", "SASL_SSL"), ("sasl.mechanisms", "SCRAM-SHA-512"), ("sasl.username", "ctr"), ("sasl.password", "pw"),
            ("ssl.ca.location", "/home/me/kafka/ca.pem"));

        Assert.Equal(new Dictionary<string, string>
        {
            ["kafka.security.protocol"] = "SASL_SSL",
            ["kafka.sasl.mechanism"] = "SCRAM-SHA-512",
            ["kafka.sasl.jaas.config"] = "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"ctr\" password=\"pw\";",
            ["kafka.ssl.truststore.type"] = "PEM",
            ["kafka.ssl.truststore.location"] = "/etc/ctr/kafka/ca.pem",
        }, KafkaOptions(CtrQueryPlan.StartCommand(new PipelineSettings(), spark)));
    }

    [Fact]
    public void Ssl_with_a_ca_and_host_name_verification()
    {
        var spark = Secured(("security.protocol", "ssl"), ("ssl.ca.location", "/certs/ca.crt"), ("ssl.endpoint.identification.algorithm", "https"));

        Assert.Equal(new Dictionary<string, string>
        {
            ["kafka.security.protocol"] = "SSL",
            ["kafka.ssl.truststore.type"] = "PEM",
            ["kafka.ssl.truststore.location"] = "/etc/ctr/kafka/ca.crt",
            ["kafka.ssl.endpoint.identification.algorithm"] = "https",
        }, KafkaOptions(CtrQueryPlan.StartCommand(new PipelineSettings(), spark)));
    }

    [Fact]
    public void Mutual_tls_gives_the_certificate_and_key_inline_and_the_printed_plan_shows_no_key()
    {
        var folder = Directory.CreateTempSubdirectory("ctr-spark-mtls").FullName;
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var key = rsa.ExportPkcs8PrivateKeyPem() + "\n";
        using var certificate = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=ctr", rsa,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1).CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        var chain = certificate.ExportCertificatePem() + "\n";
        File.WriteAllText(Path.Combine(folder, "client.crt"), chain);
        File.WriteAllText(Path.Combine(folder, "client.key"), key);
        var spark = Secured(("security.protocol", "SSL"), ("ssl.ca.location", "/certs/ca.crt"),
            ("ssl.certificate.location", Path.Combine(folder, "client.crt")), ("ssl.key.location", Path.Combine(folder, "client.key")));

        var command = CtrQueryPlan.StartCommand(new PipelineSettings(), spark);

        Assert.Equal(new Dictionary<string, string>
        {
            ["kafka.security.protocol"] = "SSL",
            ["kafka.ssl.truststore.type"] = "PEM",
            ["kafka.ssl.truststore.location"] = "/etc/ctr/kafka/ca.crt",
            ["kafka.ssl.keystore.type"] = "PEM",
            ["kafka.ssl.keystore.certificate.chain"] = chain,
            ["kafka.ssl.keystore.key"] = key,
        }, KafkaOptions(command));
        foreach (var indented in new[] { false, true })
        {
            var json = CtrQueryPlan.Json(command, spark, indented);
            Assert.Equal(2, json.Split("\"kafka.ssl.keystore.key\": \"***\"").Length - 1);
            Assert.DoesNotContain("PRIVATE KEY", json);
            Assert.Contains("BEGIN CERTIFICATE", json);
        }
    }

    [Fact]
    public void The_printed_plan_masks_a_jaas_config_whose_password_json_escapes()
    {
        var spark = Secured(("security.protocol", "SASL_SSL"), ("sasl.mechanisms", "SCRAM-SHA-256"), ("sasl.username", "ctr"), ("sasl.password", "p\"w\\<x>"));
        var command = CtrQueryPlan.StartCommand(new PipelineSettings(), spark);

        var json = CtrQueryPlan.Json(command, spark);

        Assert.Equal(2, json.Split("\"kafka.sasl.jaas.config\": \"***\"").Length - 1);
        Assert.DoesNotContain("ScramLoginModule", json);
        Assert.DoesNotContain("<x>", json);
        // Nothing but the secrets changed.
        var masked = Google.Protobuf.JsonParser.Default.Parse<Command>(json);
        var jaas = command.WriteStreamOperationStart.Options["kafka.sasl.jaas.config"];
        masked.WriteStreamOperationStart.Options["kafka.sasl.jaas.config"] = jaas;
        Source(masked).Options["kafka.sasl.jaas.config"] = jaas;
        Assert.Equal(command, masked);
    }

    [Fact]
    public void A_librdkafka_property_spark_cannot_be_given_is_refused_when_the_options_are_resolved()
    {
        var e = Assert.Throws<ConfigurationException>(() => Secured(("security.protocol", "SSL"), ("ssl.crl.location", "/crl.pem")));

        Assert.StartsWith("Kafka:Properties: the Kafka client property ssl.crl.location cannot be given to Flink or Spark", e.Message);
    }
}
