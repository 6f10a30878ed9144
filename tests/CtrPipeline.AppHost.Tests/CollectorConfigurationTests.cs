using YamlDotNet.RepresentationModel;

namespace CtrPipeline.AppHost.Tests;

/// <summary>The collector's configuration file, read as the collector reads it (YAML), against the app model's names and ports.</summary>
public sealed class CollectorConfigurationTests
{
    private static readonly string ConfigFile = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "observability", "otel-collector.yaml"));

    [Fact]
    public void Pipelines_use_only_defined_components_and_fan_metrics_out_to_the_dashboard_and_prometheus()
    {
        var config = new YamlStream();
        config.Load(new StringReader(File.ReadAllText(ConfigFile)));
        var root = (YamlMappingNode)config.Documents[0].RootNode;
        YamlMappingNode Map(YamlMappingNode node, string key) =>
            (YamlMappingNode)node[key];
        IEnumerable<string> List(YamlMappingNode node, string key) =>
            ((YamlSequenceNode)node[key]).Select(n => n.ToString());

        var exporters = Map(root, "exporters").Children.Keys.Select(k => k.ToString()).ToHashSet();
        var receivers = Map(root, "receivers").Children.Keys.Select(k => k.ToString()).ToHashSet();
        var pipelines = Map(Map(root, "service"), "pipelines");
        foreach (var (name, node) in pipelines.Children)
        {
            var pipeline = (YamlMappingNode)node;
            Assert.Subset(receivers, List(pipeline, "receivers").ToHashSet());
            Assert.Subset(exporters, List(pipeline, "exporters").ToHashSet());
            Assert.Contains("otlphttp/aspire", List(pipeline, "exporters")); // metrics, traces and logs all reach the dashboard
        }
        Assert.Contains("otlphttp/prometheus", List(Map(pipelines, "metrics"), "exporters"));

        // Prometheus by its resource name and port on the container network; the ports the model exposes.
        Assert.Equal($"http://{Observability.Prometheus}:9090/api/v1/otlp", Map(Map(root, "exporters"), "otlphttp/prometheus")["endpoint"].ToString());
        var protocols = Map(Map(Map(root, "receivers"), "otlp"), "protocols");
        Assert.EndsWith(":4317", Map(protocols, "grpc")["endpoint"].ToString());
        Assert.EndsWith(":4318", Map(protocols, "http")["endpoint"].ToString());
        Assert.Equal("${env:ASPIRE_OTLP_API_KEY}", Map(Map(Map(root, "exporters"), "otlphttp/aspire"), "headers")["x-otlp-api-key"].ToString());
    }
}
