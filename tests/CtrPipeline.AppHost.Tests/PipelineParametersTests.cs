using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

namespace CtrPipeline.AppHost.Tests;

public sealed class PipelineParametersTests
{
    private static PipelineParameters From(params (string Key, string Value)[] values) =>
        PipelineParameters.From(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>($"Parameters:{v.Key}", v.Value)))
            .Build());

    [Fact]
    public void Defaults_run_both_native_engines_and_the_sql_engine_on_bursty_traffic()
    {
        var p = From();
        Assert.Equal(PipelineMode.Auto, p.Mode);
        Assert.Null(p.ChosenEngines);
        Assert.Equal([Engines.NativeContinuous, Engines.NativeMicroBatch, Engines.Sql], p.EnginesFor(PipelineMode.Embedded, new HashSet<string>()));
        Assert.Equal("mmpp", p.Profile);
        Assert.Equal(5000, p.Rate);
        Assert.Equal(TimeSpan.FromSeconds(10), p.WindowSize);
        Assert.Equal(TimeSpan.FromSeconds(2), p.WatermarkDelay);
        Assert.Equal(9092, p.KafkaPort);
        Assert.Equal(2, p.TracesPerSecond);
    }

    [Fact]
    public void Pipeline_settings_left_out_are_the_settings_types_own_defaults()
    {
        var pipeline = From().Pipeline();
        var defaults = PipelineSettings.Defaults;

        Assert.Equal(defaults.WindowSize, pipeline.WindowSize);
        Assert.Equal(defaults.WatermarkDelay, pipeline.WatermarkDelay);
        Assert.Equal(defaults.TriggerInterval, pipeline.TriggerInterval);
        Assert.Equal(defaults.Partitions, pipeline.Partitions);
    }

    [Fact]
    public void The_environment_a_worker_gets_binds_back_to_the_same_settings()
    {
        var settings = From(("window", "5s"), ("watermark", "750ms"), ("trigger", "2s"), ("partitions", "16"), ("topic-prefix", "run-1")).Pipeline();
        settings.IdleTimeout = TimeSpan.FromSeconds(3);
        settings.MaxEventTimeSkew = TimeSpan.FromMinutes(1);

        var bound = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(settings.Environment("/data/campaigns.csv").Select(v => KeyValuePair.Create(v.Key.Replace("__", ":"), (string?)v.Value)))
            .Build().GetSection(PipelineSettings.Section).Get<PipelineSettings>()!;

        Assert.Equal(
            (settings.WindowSize, settings.WatermarkDelay, settings.TriggerInterval, settings.IdleTimeout, settings.WatermarkInterval, settings.MaxEventTimeSkew, settings.Partitions),
            (bound.WindowSize, bound.WatermarkDelay, bound.TriggerInterval, bound.IdleTimeout, bound.WatermarkInterval, bound.MaxEventTimeSkew, bound.Partitions));
        Assert.Equal(settings.Topics.All, bound.Topics.All);
        Assert.Equal("/data/campaigns.csv", bound.CatalogPath);
    }

    [Theory]
    [InlineData("rate", "-5", "Parameters:rate must be a positive number")]
    [InlineData("rate", "fast", "Parameters:rate must be a positive number")]
    [InlineData("engine", "spark-ish", "Unknown engine 'spark-ish'")]
    [InlineData("profile", "zipf", "Unknown profile 'zipf'")]
    [InlineData("mode", "cloud", "Parameters:mode must be auto, embedded or containers")]
    [InlineData("window", "100ms", "must not be smaller than the watermark's tick")]
    [InlineData("watermark", "soon", "Parameters:watermark: 'soon' is not a duration")]
    [InlineData("kafka-port", "99999", "Parameters:kafka-port must be a TCP port")]
    [InlineData("kafka-port", "-1", "Parameters:kafka-port must be a TCP port")]
    [InlineData("traces", "-1", "Parameters:traces must be the number of events traced per second")]
    [InlineData("traces", "many", "Parameters:traces must be the number of events traced per second")]
    [InlineData("flink-parallelism", "2000", "Parameters:flink-parallelism must be between 0 (one task per events partition) and 1024 (got '2000')")]
    [InlineData("flink-parallelism", "-1", "Parameters:flink-parallelism must be between 0")]
    [InlineData("partitions", "0", "Parameters:partitions must be between 1 and 1024 (got '0')")]
    [InlineData("load", "none", "Parameters:load must be internal")]
    [InlineData("topic-prefix", "run 1", "Parameters:topic-prefix must be letters, digits")]
    [InlineData("kafka-config", "/nonexistent/client.properties", "The Kafka client properties file /nonexistent/client.properties does not exist")]
    public void Bad_values_are_rejected_with_a_message_naming_the_parameter(string key, string value, string message)
    {
        var e = Assert.Throws<ConfigurationException>(() => From((key, value)));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData(PipelineMode.Embedded, "", "native-continuous,native-microbatch,sql")]
    [InlineData(PipelineMode.Containers, "", "native-continuous,native-microbatch,sql,flink,spark")]
    [InlineData(PipelineMode.Embedded, "flink", "native-continuous,native-microbatch,sql,flink")]
    [InlineData(PipelineMode.Embedded, "flink,spark", "native-continuous,native-microbatch,sql,flink,spark")]
    public void All_engines_means_each_clustered_engine_too_where_its_cluster_exists(PipelineMode mode, string external, string expected)
    {
        var clusters = external.Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        Assert.Equal(expected, string.Join(",", From().EnginesFor(mode, clusters)));
    }

    [Theory]
    [InlineData("sql", PipelineMode.Embedded, "sql")]
    [InlineData("native-continuous, sql", PipelineMode.Embedded, "native-continuous,sql")]
    [InlineData("sql,spark", PipelineMode.Containers, "sql,spark")]
    public void The_sql_engine_can_be_chosen_in_any_mode(string engines, PipelineMode mode, string expected) =>
        Assert.Equal(expected, string.Join(",", From(("engine", engines)).EnginesFor(mode, new HashSet<string>())));

    [Theory]
    [InlineData("flink", "ConnectionStrings:flink-gateway")]
    [InlineData("native-continuous, spark", "ConnectionStrings:spark-connect")]
    public void A_clustered_engine_without_its_cluster_is_refused_with_what_to_do(string engines, string connection)
    {
        var p = From(("engine", engines));
        var e = Assert.Throws<ConfigurationException>(() => p.EnginesFor(PipelineMode.Embedded, new HashSet<string>()));
        Assert.Contains("engine needs a cluster: containers mode", e.Message);
        Assert.Contains(connection, e.Message);
        Assert.Equal(p.ChosenEngines, p.EnginesFor(PipelineMode.Containers, new HashSet<string>()));
    }

    [Fact]
    public void Settings_for_existing_clusters_are_optional_parameters()
    {
        var p = From(("flink-kafka", "broker-1:9092"),
            ("spark-kafka", "broker-2:9092"), ("spark-catalog", "s3a://bucket/campaigns.csv"));
        Assert.Equal("broker-1:9092", p.FlinkKafka);
        Assert.Equal(("broker-2:9092", "s3a://bucket/campaigns.csv"), (p.SparkKafka, p.SparkCatalog));
        Assert.Equal((null, null, null), (From().FlinkKafka, From().SparkKafka, From().SparkCatalog));
    }

    [Theory]
    [InlineData("auto", true, PipelineMode.Containers)]
    [InlineData("auto", false, PipelineMode.Embedded)]
    [InlineData("embedded", true, PipelineMode.Embedded)]
    [InlineData("containers", false, PipelineMode.Containers)]
    public void Auto_mode_follows_the_container_runtime_and_explicit_modes_do_not(string mode, bool healthy, PipelineMode expected)
    {
        var probes = 0;
        var resolved = From(("mode", mode)).Resolve(() => { probes++; return healthy; });
        Assert.Equal(expected, resolved);
        Assert.Equal(mode == "auto" ? 1 : 0, probes); // the runtime is only probed when it decides something
    }
}
