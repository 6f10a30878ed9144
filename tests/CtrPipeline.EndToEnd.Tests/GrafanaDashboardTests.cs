using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.RegularExpressions;
using CtrPipeline.Bench;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// The Grafana dashboard in observability/ against what the services really export: the instruments are captured
/// live from a short pipeline run, translated to the names Prometheus stores them under, and every panel's query must
/// name one of them.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed partial class GrafanaDashboardTests(ITestOutputHelper output)
{
    private static readonly string Observability =
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "observability"));

    [Fact]
    public async Task Every_panel_queries_metrics_the_services_export_under_their_prometheus_names()
    {
        var exported = await CaptureInstrumentsAsync();
        var names = exported.Values.ToHashSet();
        output.WriteLine(string.Join("\n", exported.Select(e => $"{e.Key} -> {e.Value}")));

        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Observability, "grafana", "dashboards", "ctr-pipeline.json")));
        var datasource = DatasourceUid().Match(File.ReadAllText(Path.Combine(Observability, "grafana", "provisioning", "datasources", "prometheus.yaml"))).Groups[1].Value;
        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().ToList();
        Assert.NotEmpty(panels);
        var queried = new HashSet<string>();
        foreach (var panel in panels)
        {
            var title = panel.GetProperty("title").GetString();
            Assert.Equal(datasource, panel.GetProperty("datasource").GetProperty("uid").GetString());
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.True(targets.Count > 0, $"panel '{title}' has no query");
            foreach (var target in targets)
            {
                var expr = target.GetProperty("expr").GetString()!;
                var metrics = MetricName().Matches(expr).Select(m => m.Value).ToList();
                Assert.True(metrics.Count > 0, $"panel '{title}': '{expr}' names no ctr_ metric");
                foreach (var metric in metrics)
                {
                    var series = HistogramSeries().Replace(metric, "");
                    Assert.True(names.Contains(metric) || names.Contains(series), $"panel '{title}': {metric} is not a metric the services export");
                    queried.Add(names.Contains(metric) ? metric : series);
                }
            }
        }

        // What the issue asks the dashboard to show: L1/L2 percentiles per engine, throughput and lag.
        string[] required = ["ctr_analyzer_l1_milliseconds", "ctr_analyzer_l2_milliseconds", "ctr_producer_events_sent_total",
            "ctr_engine_events_consumed_total", "ctr_engine_consumer_lag"];
        Assert.Superset(required.ToHashSet(), queried);
    }

    [Theory]
    [InlineData("ctr.analyzer.l1", "ms", "histogram", "ctr_analyzer_l1_milliseconds")]
    [InlineData("ctr.producer.events.sent", "{event}", "counter", "ctr_producer_events_sent_total")]
    [InlineData("ctr.producer.offered_rate", "{event}/s", "gauge", "ctr_producer_offered_rate_per_second")]
    [InlineData("ctr.engine.consumer_lag", "{event}", "gauge", "ctr_engine_consumer_lag")]
    [InlineData("http.server.request.duration", "s", "histogram", "http_server_request_duration_seconds")]
    [InlineData("process.memory", "By", "gauge", "process_memory_bytes")]
    public void Otlp_names_translate_as_prometheus_stores_them(string name, string unit, string kind, string expected) =>
        Assert.Equal(expected, PrometheusNames.For(name, unit, kind));

    /// <summary>Every CtrPipeline instrument published while a short pipeline runs, by its Prometheus name.</summary>
    private async Task<IReadOnlyDictionary<string, string>> CaptureInstrumentsAsync()
    {
        var instruments = new ConcurrentDictionary<string, string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name.StartsWith(PipelineTelemetry.Prefix, StringComparison.Ordinal))
                    instruments[instrument.Name] = PrometheusNames.For(instrument.Name, instrument.Unit, PrometheusNames.Kind(instrument));
            },
        };
        listener.Start();
        var settings = OracleEndToEndTests.ShortRun("poisson") with { Verify = false };
        await OracleEndToEndTests.NewExperiment(settings, Engines.NativeContinuous, output).RunAsync(TestContext.Timeout);
        return instruments;
    }

    [GeneratedRegex(@"\bctr_[a-z0-9_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramSeries();

    [GeneratedRegex(@"uid:\s*(\S+)")]
    private static partial Regex DatasourceUid();
}

/// <summary>
/// How Prometheus 3 names an OTLP metric (translation strategy UnderscoreEscapingWithSuffixes, the default; OpenTelemetry's
/// Prometheus compatibility specification): dots become underscores; the unit is appended in words (ms -> milliseconds,
/// s -> seconds, By -> bytes), annotations in braces ({event}) are dropped, and "x/y" becomes "x_per_y"; monotonic
/// counters end in _total. Histograms are then stored as _bucket, _sum and _count series.
/// </summary>
internal static class PrometheusNames
{
    private static readonly Dictionary<string, string> Units = new()
    {
        ["ms"] = "milliseconds", ["s"] = "seconds", ["us"] = "microseconds", ["ns"] = "nanoseconds", ["min"] = "minutes",
        ["h"] = "hours", ["By"] = "bytes", ["KiBy"] = "kibibytes", ["MiBy"] = "mebibytes", ["%"] = "percent", ["1"] = "",
    };

    private static readonly Dictionary<string, string> PerUnits = new() { ["s"] = "second", ["m"] = "minute", ["h"] = "hour" };

    public static string Kind(Instrument instrument) => instrument switch
    {
        Counter<long> or Counter<double> or ObservableCounter<long> or ObservableCounter<double> => "counter",
        Histogram<long> or Histogram<double> => "histogram",
        _ => "gauge",
    };

    public static string For(string name, string? unit, string kind)
    {
        var words = new List<string> { name.Replace('.', '_') };
        if (!string.IsNullOrEmpty(unit))
        {
            var parts = unit.Split('/', 2);
            var main = Word(parts[0], Units);
            if (main.Length > 0) words.Add(main);
            if (parts.Length == 2 && Word(parts[1], PerUnits) is { Length: > 0 } per) words.Add("per_" + per);
        }
        if (kind == "counter") words.Add("total");
        return string.Join("_", words);
    }

    private static string Word(string unit, Dictionary<string, string> known) =>
        unit.StartsWith('{') ? "" : known.GetValueOrDefault(unit, unit);
}
