using System.Diagnostics;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using CtrPipeline.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace CtrPipeline.AppHost.Tests;

/// <summary>
/// The AppHost on a secured cluster, as a user gives it: a connection string, a client properties file without the
/// password, and the password as a secret parameter. The cluster is the embedded broker process requiring
/// SASL/SCRAM-SHA-512 over TLS; the engine must get through it, and the dashboard (headless Chromium) must show the
/// parameter masked and never the password. The screenshot goes to artifacts/dashboard/.
/// </summary>
[Collection(RunningAppHostCollection.Name)]
public sealed class SecuredClusterDashboardTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ctr-secured-apphost-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [RequiresExecutableFact("chromium", "Debian: apt-get install chromium; .ci/run installs it")]
    public async Task The_engine_gets_through_a_sasl_ssl_cluster_and_the_dashboard_shows_the_password_masked()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var cancel = timeout.Token;
        var password = $"dash-{Guid.NewGuid():N}";
        var tls = Path.Combine(_folder, "tls");
        var httpPort = EmbeddedKafkaProcess.FreePort();
        using var broker = EmbeddedKafkaProcess.StartScramOverTls(password, tls, httpPort);
        var brokerOutput = Task.WhenAll(broker.StandardOutput.ReadToEndAsync(cancel), broker.StandardError.ReadToEndAsync(cancel));
        try
        {
            var bootstrap = await EmbeddedKafkaProcess.WaitBootstrap(broker, httpPort);
            var properties = Path.Combine(_folder, "client.properties");
            await File.WriteAllTextAsync(properties,
                $"security.protocol=SASL_SSL\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username=bench\nssl.ca.location={Path.Combine(tls, "ca.pem")}\n", cancel);

            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.CtrPipeline_AppHost>(
                [
                    "--Parameters:mode=embedded", "--Parameters:engine=native-continuous", "--Parameters:load=external",
                    $"--ConnectionStrings:kafka={bootstrap}", $"--Parameters:kafka-config={properties}", $"--Parameters:kafka-password={password}",
                    "--ASPIRE_ALLOW_UNSECURED_TRANSPORT=true", "--ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS=true",
                ],
                (options, _) => options.DisableDashboard = false, cancel);
            await using var app = await builder.BuildAsync(cancel);
            await app.StartAsync(cancel);
            var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
            // KafkaSetup created the topics through SASL_SSL, and the engine is ready: it holds its partitions.
            await notifications.WaitForResourceAsync(Engines.NativeContinuous, KnownResourceStates.Running, cancel);
            await notifications.WaitForResourceHealthyAsync(Engines.NativeContinuous, cancel);
            var dashboard = app.GetEndpoint("aspire-dashboard", "http").ToString().TrimEnd('/');

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await DashboardBrowserTests.LaunchChromiumAsync(playwright);
            var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1400, Height = 900 } });
            // The parameter in the dashboard: its details, with its value masked and the services that use it.
            await DashboardBrowserTests.OpenUntilAsync(page, $"{dashboard}/?resource={PipelineParameters.KafkaPasswordParameter}",
                $"text=Parameter: {PipelineParameters.KafkaPasswordParameter}", TimeSpan.FromMinutes(1));
            Directory.CreateDirectory(DashboardBrowserTests.ArtifactsFolder);
            var screenshot = Path.Combine(DashboardBrowserTests.ArtifactsFolder, "secured-cluster-password.png");
            await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
            output.WriteLine($"screenshot: {screenshot}");

            var shown = await page.InnerTextAsync("body");
            Assert.Contains(PipelineParameters.KafkaPasswordParameter, shown);
            Assert.Contains(Engines.NativeContinuous, shown);
            Assert.DoesNotContain(password, shown);
            Assert.DoesNotContain(password, await page.ContentAsync());
        }
        finally
        {
            if (!broker.HasExited) broker.Kill(entireProcessTree: true);
            await broker.WaitForExitAsync(CancellationToken.None);
            var logs = await brokerOutput;
            Assert.DoesNotContain(password, logs[0] + logs[1]);
        }
    }
}
