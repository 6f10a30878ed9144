using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtrPipeline.AppHost.Tests;

/// <summary>Reading the app model Program.cs builds, exactly as `dotnet run` builds it, without starting anything.</summary>
internal static class AppModel
{
    public static readonly string Repository = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));

    public static Task<IDistributedApplicationTestingBuilder> BuildAsync(params string[] args) =>
        DistributedApplicationTestingBuilder.CreateAsync<Projects.CtrPipeline_AppHost>(args);

    public static IResource Resource(IDistributedApplicationTestingBuilder builder, string name) =>
        builder.Resources.SingleOrDefault(r => r.Name == name) ?? throw new Xunit.Sdk.XunitException(
            $"No resource '{name}'; the model has: {string.Join(", ", builder.Resources.Select(r => r.Name))}");

    public static ContainerResource Container(IDistributedApplicationTestingBuilder builder, string name) =>
        Resource(builder, name) as ContainerResource ?? throw new Xunit.Sdk.XunitException($"'{name}' is not a container");

    /// <summary>The resource's environment as the publish manifest would write it (references as {resource.property}).</summary>
    public static async Task<Dictionary<string, string>> Environment(IResource resource)
    {
        var configuration = await ExecutionConfigurationBuilder.Create(resource).WithEnvironmentVariablesConfig()
            .BuildAsync(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Publish), NullLogger.Instance, CancellationToken.None);
        Assert.Null(configuration.Exception);
        return configuration.EnvironmentVariables.ToDictionary(v => v.Key, v => v.Value);
    }

    public static async Task<List<string>> Arguments(IResource resource)
    {
        var configuration = await ExecutionConfigurationBuilder.Create(resource).WithArgumentsConfig()
            .BuildAsync(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Publish), NullLogger.Instance, CancellationToken.None);
        return [.. configuration.Arguments.Select(a => a.Value)];
    }

    /// <summary>The resources this one waits for to be running (and healthy, where they have a health check).</summary>
    public static IEnumerable<string> WaitsFor(IResource resource) =>
        resource.Annotations.OfType<WaitAnnotation>().Where(w => w.WaitType == WaitType.WaitUntilHealthy).Select(w => w.Resource.Name);

    /// <summary>The resources this one waits for to run to completion.</summary>
    public static IEnumerable<string> WaitsForCompletion(IResource resource) =>
        resource.Annotations.OfType<WaitAnnotation>().Where(w => w.WaitType == WaitType.WaitForCompletion).Select(w => w.Resource.Name);

    public static EndpointAnnotation Endpoint(IResource resource, string name) =>
        resource.Annotations.OfType<EndpointAnnotation>().SingleOrDefault(e => e.Name == name)
        ?? throw new Xunit.Sdk.XunitException($"{resource.Name}: no endpoint '{name}'");
}
