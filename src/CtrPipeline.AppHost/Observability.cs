namespace CtrPipeline.AppHost;

/// <summary>
/// The Grafana path of containers mode: an OpenTelemetry Collector receives every service's OTLP and fans it out to
/// the Aspire dashboard and to Prometheus; Grafana shows Prometheus with a provisioned dashboard. The configuration
/// files live in the repository's observability/ folder and are bind-mounted read-only.
/// </summary>
public static class Observability
{
    public const string Collector = "otel-collector";
    public const string Prometheus = "prometheus";
    public const string Grafana = "grafana";

    // Pinned tags: the collector-contrib build has the otlphttp exporter, Prometheus 3 its OTLP receiver.
    public const string CollectorImage = "otel/opentelemetry-collector-contrib";
    public const string CollectorTag = "0.115.1";
    public const string PrometheusImage = "prom/prometheus";
    public const string PrometheusTag = "v3.1.0";
    public const string GrafanaImage = "grafana/grafana";
    public const string GrafanaTag = "11.4.0";

    /// <summary>Adds Prometheus, the collector and Grafana; returns the collector the services should export to.</summary>
    public static IResourceBuilder<ContainerResource> AddObservability(this IDistributedApplicationBuilder builder)
    {
        string File(params string[] parts) => PipelineTopology.InRepository(builder, ["observability", .. parts]);

        var prometheus = builder.AddContainer(Prometheus, PrometheusImage, PrometheusTag)
            .WithBindMount(File("prometheus.yml"), "/etc/prometheus/prometheus.yml", isReadOnly: true)
            .WithArgs("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.enable-otlp-receiver")
            .WithHttpEndpoint(targetPort: 9090, name: "http");

        var collector = builder.AddContainer(Collector, CollectorImage, CollectorTag)
            .WithBindMount(File("otel-collector.yaml"), "/etc/otelcol-contrib/config.yaml", isReadOnly: true)
            .WithArgs("--config=/etc/otelcol-contrib/config.yaml")
            .WithEndpoint(targetPort: 4317, name: "grpc", scheme: "http")
            .WithEndpoint(targetPort: 4318, name: "http", scheme: "http")
            // The dashboard's OTLP/HTTP endpoint as seen from the container network (OTEL_EXPORTER_OTLP_ENDPOINT) and
            // its API key, which the collector's config puts into the x-otlp-api-key header.
            .WithOtlpExporter(OtlpProtocol.HttpProtobuf)
            .WithEnvironment(context => context.EnvironmentVariables["ASPIRE_OTLP_API_KEY"] = builder.Configuration["AppHost:OtlpApiKey"] ?? "")
            .WaitFor(prometheus);

        builder.AddContainer(Grafana, GrafanaImage, GrafanaTag)
            .WithBindMount(File("grafana", "provisioning"), "/etc/grafana/provisioning", isReadOnly: true)
            .WithBindMount(File("grafana", "dashboards"), "/var/lib/grafana/dashboards", isReadOnly: true)
            // Open the dashboard without a login (read-only); the admin login stays for editing.
            .WithEnvironment("GF_AUTH_ANONYMOUS_ENABLED", "true")
            .WithEnvironment("GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer")
            .WithEnvironment("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", "/var/lib/grafana/dashboards/ctr-pipeline.json")
            .WithHttpEndpoint(targetPort: 3000, name: "http")
            .WaitFor(prometheus);

        return collector;
    }

    /// <summary>
    /// Every project exports to the collector (OTLP/gRPC) instead of straight to the dashboard. They do not wait for
    /// it: the pipeline never depends on its telemetry, and an exporter whose collector is not up yet drops batches.
    /// </summary>
    public static void RouteTelemetryThrough(this IDistributedApplicationBuilder builder, IResourceBuilder<ContainerResource> collector)
    {
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
            builder.CreateResourceBuilder(project)
                .WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", collector.GetEndpoint("grpc"))
                .WithEnvironment("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    }
}
