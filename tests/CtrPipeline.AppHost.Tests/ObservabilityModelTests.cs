using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using static CtrPipeline.AppHost.Tests.AppModel;

namespace CtrPipeline.AppHost.Tests;

/// <summary>The Grafana path of containers mode, from the app model Program.cs builds; no container is started.</summary>
public sealed class ObservabilityModelTests
{
    private static Task<IDistributedApplicationTestingBuilder> Model(string mode) => AppModel.BuildAsync($"--Parameters:mode={mode}");

    private static void AssertMount(ContainerResource container, string source, string target)
    {
        var mount = Assert.Single(container.Annotations.OfType<ContainerMountAnnotation>(), m => m.Target == target);
        Assert.Equal(ContainerMountType.BindMount, mount.Type);
        Assert.True(mount.IsReadOnly, $"{container.Name}: {target} should be read-only");
        Assert.Equal(Path.Combine(Repository, source), mount.Source);
        Assert.True(File.Exists(mount.Source) || Directory.Exists(mount.Source), $"{container.Name}: {mount.Source} does not exist");
    }

    private static int? TargetPort(ContainerResource container, string endpoint) => Endpoint(container, endpoint).TargetPort;

    [Theory]
    [InlineData(Observability.Collector, Observability.CollectorImage, Observability.CollectorTag)]
    [InlineData(Observability.Prometheus, Observability.PrometheusImage, Observability.PrometheusTag)]
    [InlineData(Observability.Grafana, Observability.GrafanaImage, Observability.GrafanaTag)]
    public async Task Containers_mode_adds_each_observability_container_with_a_pinned_image(string name, string image, string tag)
    {
        await using var builder = await Model("containers");
        var image_ = Assert.Single(Container(builder, name).Annotations.OfType<ContainerImageAnnotation>());
        Assert.Equal(image, image_.Image);
        Assert.Equal(tag, image_.Tag);
        Assert.NotEqual("latest", image_.Tag);
    }

    [Fact]
    public async Task Collector_receives_otlp_and_is_configured_to_export_to_the_dashboard_and_prometheus()
    {
        await using var builder = await Model("containers");
        var collector = Container(builder, Observability.Collector);
        Assert.Equal(4317, TargetPort(collector, "grpc"));
        Assert.Equal(4318, TargetPort(collector, "http"));
        AssertMount(collector, Path.Combine("observability", "otel-collector.yaml"), "/etc/otelcol-contrib/config.yaml");
        Assert.Contains("--config=/etc/otelcol-contrib/config.yaml", await Arguments(collector));

        // The OTLP settings exist only in a run (the dashboard's address is resolved then): the names are checked here.
        var run = new EnvironmentCallbackContext(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Run));
        foreach (var callback in collector.Annotations.OfType<EnvironmentCallbackAnnotation>()) await callback.Callback(run);
        Assert.Contains("OTEL_EXPORTER_OTLP_ENDPOINT", run.EnvironmentVariables.Keys); // the dashboard, as the container network sees it
        Assert.Equal("http/protobuf", run.EnvironmentVariables["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        Assert.Contains("ASPIRE_OTLP_API_KEY", run.EnvironmentVariables.Keys);
        Assert.Contains(Observability.Prometheus, WaitsFor(collector));
    }

    [Fact]
    public async Task Prometheus_takes_otlp_and_grafana_is_provisioned_with_the_repository_dashboard()
    {
        await using var builder = await Model("containers");
        var prometheus = Container(builder, Observability.Prometheus);
        Assert.Equal(9090, TargetPort(prometheus, "http"));
        AssertMount(prometheus, Path.Combine("observability", "prometheus.yml"), "/etc/prometheus/prometheus.yml");
        Assert.Contains("--web.enable-otlp-receiver", await Arguments(prometheus));

        var grafana = Container(builder, Observability.Grafana);
        Assert.Equal(3000, TargetPort(grafana, "http"));
        AssertMount(grafana, Path.Combine("observability", "grafana", "provisioning"), "/etc/grafana/provisioning");
        AssertMount(grafana, Path.Combine("observability", "grafana", "dashboards"), "/var/lib/grafana/dashboards");
        var env = await Environment(grafana);
        Assert.Equal("true", env["GF_AUTH_ANONYMOUS_ENABLED"]);
        Assert.Equal("Viewer", env["GF_AUTH_ANONYMOUS_ORG_ROLE"]);
        var home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"];
        Assert.True(File.Exists(Path.Combine(Repository, "observability", "grafana", "dashboards", Path.GetFileName(home))), $"{home} is not in the mounted folder");
        Assert.Contains(Observability.Prometheus, WaitsFor(grafana));
    }

    [Fact]
    public async Task Every_project_exports_to_the_collector_and_does_not_wait_for_it()
    {
        await using var builder = await Model("containers");
        var projects = builder.Resources.OfType<ProjectResource>().ToList();
        Assert.Contains(projects, p => p.Name == PipelineTopology.Analyzer);
        foreach (var project in projects)
        {
            var env = await Environment(project);
            Assert.Equal("{otel-collector.bindings.grpc.url}", env["OTEL_EXPORTER_OTLP_ENDPOINT"]);
            Assert.Equal("grpc", env["OTEL_EXPORTER_OTLP_PROTOCOL"]);
            Assert.DoesNotContain(Observability.Collector, WaitsFor(project));
        }
    }

    [Fact]
    public async Task Embedded_mode_has_no_observability_containers_and_exports_straight_to_the_dashboard()
    {
        await using var builder = await Model("embedded");
        Assert.Empty(builder.Resources.OfType<ContainerResource>());
        var env = await Environment(builder.Resources.OfType<ProjectResource>().Single(p => p.Name == PipelineTopology.Analyzer));
        Assert.DoesNotContain("otel-collector", env.GetValueOrDefault("OTEL_EXPORTER_OTLP_ENDPOINT") ?? "");
    }
}
