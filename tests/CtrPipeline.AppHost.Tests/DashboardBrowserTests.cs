using System.Globalization;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using CtrPipeline.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace CtrPipeline.AppHost.Tests;

/// <summary>
/// What a user sees: the AppHost in embedded mode with its dashboard, a short load, and the analyzer's metrics page
/// opened in headless Chromium (Debian's package). The dashboard runs without login for this check only. Screenshots
/// go to artifacts/dashboard/ in the repository.
/// </summary>
[Collection(RunningAppHostCollection.Name)]
public sealed partial class DashboardBrowserTests(ITestOutputHelper output)
{
    private static readonly string[] ChromiumFlags =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        // This machine's network is closed: without these Chromium keeps trying to reach Google's services.
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    public static string ArtifactsFolder =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "artifacts", "dashboard"));

    [RequiresExecutableFact("chromium", "Debian: apt-get install chromium; .ci/run installs it")]
    public async Task Analyzer_metrics_page_shows_L1_and_L2_histograms_with_data_per_engine()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var cancel = timeout.Token;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.CtrPipeline_AppHost>(
            [
                "--Parameters:mode=embedded", "--Parameters:kafka-port=0", "--Parameters:engine=native-microbatch",
                "--Parameters:rate=2000", "--Parameters:window=2s", "--Parameters:watermark=500ms",
                "--ASPIRE_ALLOW_UNSECURED_TRANSPORT=true", "--ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS=true",
            ],
            (options, _) => options.DisableDashboard = false, cancel);
        await using var app = await builder.BuildAsync(cancel);
        await app.StartAsync(cancel);
        var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        await notifications.WaitForResourceAsync(PipelineTopology.Producer, KnownResourceStates.Running, cancel);
        // The testing host gives the dashboard a free port.
        var dashboard = app.GetEndpoint("aspire-dashboard", "http").ToString().TrimEnd('/');
        output.WriteLine($"pipeline running; dashboard at {dashboard}");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchChromiumAsync(playwright);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1400, Height = 1000 } });
        Directory.CreateDirectory(ArtifactsFolder);
        try
        {
            await CheckAnalyzerMetricsAsync(page, dashboard);
        }
        catch (Exception e) when (e is TimeoutException or PlaywrightException)
        {
            // What the browser showed instead, for whoever reads the failure.
            var shown = Path.Combine(ArtifactsFolder, "failure.png");
            await page.ScreenshotAsync(new() { Path = shown, FullPage = true });
            throw new Xunit.Sdk.XunitException($"{e.Message}\nThe page was {page.Url} (screenshot {shown}): {(await page.InnerTextAsync("body"))[..Math.Min(2000, (await page.InnerTextAsync("body")).Length)]}");
        }
    }

    private async Task CheckAnalyzerMetricsAsync(IPage page, string dashboard)
    {
        foreach (var instrument in new[] { "ctr.analyzer.l1", "ctr.analyzer.l2" })
        {
            // A row of percentiles in the instrument's table view. Until the analyzer's first export the dashboard
            // knows neither it nor its instruments and shows something else (the meter's list of instruments, once
            // they exist but hold no measurement: the analyzer leaves its warm-up out), so the page is opened again
            // until the instrument's own view is there.
            await OpenUntilAsync(page, MetricsPage(dashboard, instrument, "Table"), ".metrics-chart-header", TimeSpan.FromMinutes(2));
            await OpenUntilAsync(page, MetricsPage(dashboard, instrument, "Table"), DataRow(1), TimeSpan.FromMinutes(1));
            Assert.Contains(instrument, await page.Locator(".metrics-chart-header").First.InnerTextAsync());
            // The analyzer's meter, with both latency instruments, in the instrument tree.
            Assert.Equal(1, await page.Locator("fluent-tree-item[title='ctr.analyzer.l1']").CountAsync());
            Assert.Equal(1, await page.Locator("fluent-tree-item[title='ctr.analyzer.l2']").CountAsync());

            // The row's percentiles are numbers, in milliseconds, tagged by engine.
            var cells = await page.Locator(DataRow(1)).First.Locator("td").AllInnerTextsAsync();
            output.WriteLine($"{instrument}: {string.Join(" | ", cells.Select(c => c.ReplaceLineEndings(" ")))}");
            var percentiles = cells.Skip(1).Select(LeadingNumber).ToList();
            Assert.True(percentiles.Count >= 3 && percentiles.All(p => p is >= 0), $"{instrument}: no percentiles in {string.Join(" | ", cells)}");
            var headers = await page.Locator("tr.fluent-data-grid-row[row-type='header']").First.InnerTextAsync();
            Assert.Contains("P99", headers);
            Assert.Contains("Milliseconds", headers);
            Assert.Contains(Engines.NativeMicroBatch, await page.InnerTextAsync("body"));
        }

        // The L1 chart, drawn over a few exports so it has a shape: its screenshot is the artifact.
        await OpenUntilAsync(page, MetricsPage(dashboard, "ctr.analyzer.l1", "Table"), DataRow(3), TimeSpan.FromMinutes(1));
        await OpenUntilAsync(page, MetricsPage(dashboard, "ctr.analyzer.l1", "Graph"), ".metrics-chart .js-plotly-plot .scatterlayer .trace", TimeSpan.FromMinutes(1));
        var screenshot = Path.Combine(ArtifactsFolder, "ctr.analyzer.l1.png");
        await page.Locator(".metrics-chart").First.ScreenshotAsync(new() { Path = screenshot });
        await page.ScreenshotAsync(new() { Path = Path.Combine(ArtifactsFolder, "analyzer-metrics.png"), FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the chart screenshot is (nearly) empty");
        output.WriteLine($"screenshot: {screenshot}");
    }

    /// <summary>Debian's Chromium, headless, kept off the network this machine does not have.</summary>
    internal static Task<IBrowser> LaunchChromiumAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new()
    {
        ExecutablePath = RequiresExecutableFactAttribute.FindOnPath("chromium"),
        Headless = true,
        Args = ChromiumFlags,
    });

    /// <summary>The n-th data row of the dashboard's table view (row 1 is the header's next).</summary>
    private static string DataRow(int n) => $"tr.fluent-data-grid-row[aria-rowindex='{n + 1}']";

    /// <summary>
    /// Opens the page until <paramref name="selector"/> shows. A fresh load also gets past the dashboard's occasional
    /// "An unhandled error has occurred" in a live table, which leaves it loading for good.
    /// </summary>
    internal static async Task OpenUntilAsync(IPage page, string url, string selector, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            await page.GotoAsync(url);
            try
            {
                await page.Locator(selector).First.WaitForAsync(new() { Timeout = 10_000 });
                return;
            }
            catch (TimeoutException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }

    private static string MetricsPage(string dashboard, string instrument, string view) =>
        $"{dashboard}/metrics/resource/{PipelineTopology.Analyzer}?meter={PipelineTelemetry.AnalyzerMeter}&instrument={instrument}&duration=1&view={view}";

    private static double? LeadingNumber(string cell) =>
        LeadingNumberPattern().Match(cell) is { Success: true } m ? double.Parse(m.Value, NumberStyles.Float, CultureInfo.InvariantCulture) : null;

    [GeneratedRegex(@"^\s*[0-9][0-9,]*(\.[0-9]+)?")]
    private static partial Regex LeadingNumberPattern();
}
