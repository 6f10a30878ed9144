using CtrPipeline.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CtrPipeline.AppHost;

/// <summary>
/// An engine's readiness as the resource's health check: healthy once its log has said "&lt;engine&gt; ready: ..."
/// (<see cref="Engines.ReadyTemplate"/>: it holds its partitions, its job or query runs). The producer waits for it, so
/// the load does not start while engines are still joining their groups or submitting jobs, and the dashboard shows
/// an engine as healthy only once it can process.
/// </summary>
public static class EngineReadiness
{
    public static IResourceBuilder<ProjectResource> WithReadinessCheck(this IResourceBuilder<ProjectResource> engine, string engineId)
    {
        var key = $"{engine.Resource.Name}-ready";
        LogReadinessCheck? check = null; // one per engine: the health check service asks its factory on every check
        engine.ApplicationBuilder.Services.AddHealthChecks().Add(new HealthCheckRegistration(key,
            services => LazyInitializer.EnsureInitialized(ref check,
                () => new LogReadinessCheck(services.GetRequiredService<ResourceLoggerService>(), engine.Resource, Engines.ReadyPrefix(engineId))),
            failureStatus: HealthStatus.Unhealthy, tags: null));
        return engine.WithHealthCheck(key);
    }

    /// <summary>Watches the resource's log from its start; once the readiness line has appeared, stays healthy.</summary>
    private sealed class LogReadinessCheck : IHealthCheck
    {
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly string _prefix;

        public LogReadinessCheck(ResourceLoggerService logs, IResource resource, string prefix)
        {
            _prefix = prefix;
            _ = WatchAsync(logs, resource);
        }

        private async Task WatchAsync(ResourceLoggerService logs, IResource resource)
        {
            await foreach (var batch in logs.WatchAsync(resource))
                if (batch.Any(line => line.Content.Contains(_prefix, StringComparison.Ordinal)))
                {
                    _ready.TrySetResult();
                    return;
                }
        }

        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(_ready.Task.IsCompleted
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"waiting for '{_prefix}...' in its log (its partitions, its job or its query)"));
    }
}
