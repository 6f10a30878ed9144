using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>The host of every worker (producer, engine, analyzer): one long-running loop with the service defaults.</summary>
public static class WorkerHost
{
    /// <summary>
    /// Lets <paramref name="configure"/> read and validate the worker's settings and return its loop, then runs it until
    /// the process is stopped. A <see cref="ConfigurationException"/> ends the process with one "error:" line and exit
    /// code 2. A loop that finishes (a producer whose duration is over) leaves the process up and idle, so the
    /// dashboard does not show it as crashed. A loop that ends with a <see cref="WorkerFailedException"/> ends the process
    /// with its message as one error line and exit code 1, within 10 s even if something hangs on the way out; one that
    /// ends with a <see cref="ConfigurationException"/> (Kafka refused the credentials, say) likewise, with exit code 2.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, Func<HostApplicationBuilder, Func<IServiceProvider, CancellationToken, Task>> configure)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.AddServiceDefaults();
        try
        {
            var loop = configure(builder);
            builder.Services.AddHostedService(services => new LoopService(stop => loop(services, stop),
                services.GetRequiredService<IHostApplicationLifetime>(), services.GetRequiredService<ILogger<LoopService>>()));
        }
        catch (ConfigurationException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        await builder.Build().RunAsync();
        return Environment.ExitCode;
    }

    private sealed class LoopService(Func<CancellationToken, Task> loop, IHostApplicationLifetime lifetime, ILogger<LoopService> logger) : BackgroundService
    {
        /// <summary>How long a failed worker's shutdown may take before the process ends anyway.</summary>
        private static readonly TimeSpan FailedShutdownLimit = TimeSpan.FromSeconds(10);

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            try
            {
                await loop(stoppingToken);
            }
            catch (Exception e) when (e is WorkerFailedException or ConfigurationException)
            {
                logger.LogError("{Reason}", e.Message);
                if (e is ConfigurationException) await Console.Error.WriteLineAsync($"error: {e.Message}");
                Environment.ExitCode = e is ConfigurationException ? 2 : 1;
                // A failed worker must end: one that lingers (a telemetry flush or a client that hangs on the way out)
                // looks alive to its supervisor and, for a refused engine, to the consumer group.
                _ = Task.Delay(FailedShutdownLimit, CancellationToken.None).ContinueWith(_ =>
                {
                    Console.Error.WriteLine($"error: shutdown did not finish within {FailedShutdownLimit.TotalSeconds:0} s; exiting");
                    Environment.Exit(1);
                }, TaskScheduler.Default);
                lifetime.StopApplication();
            }
        }
    }
}
