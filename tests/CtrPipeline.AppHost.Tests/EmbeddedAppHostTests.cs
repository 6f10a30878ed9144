using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using CtrPipeline.Contracts;
using Xunit.Abstractions;

namespace CtrPipeline.AppHost.Tests;

/// <summary>Starts the real AppHost in embedded mode (DCP runs every project as a process) and follows data through it.</summary>
[Collection(RunningAppHostCollection.Name)]
public sealed class EmbeddedAppHostTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Embedded_mode_runs_every_resource_and_every_engine_publishes_results_to_kafka()
    {
        // Generous: alone it takes under a minute, but CI runs the fault suite's processes on the same 2 cores meanwhile.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        var cancel = timeout.Token;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.CtrPipeline_AppHost>(
            ["--Parameters:mode=embedded", "--Parameters:kafka-port=0", "--Parameters:rate=2000", "--Parameters:window=2s", "--Parameters:watermark=500ms"], cancel);

        // A previous start's SQLite file must not survive into this one (the new broker's offsets would collide with its
        // rows). Leave one the engine cannot even open: the sql engine publishes only if the AppHost deleted it.
        var sqliteFile = (await AppModel.Environment(builder.Resources.Single(r => r.Name == Engines.Sql)))["Sql__SqliteFile"];
        Directory.CreateDirectory(Path.GetDirectoryName(sqliteFile)!);
        await File.WriteAllTextAsync(sqliteFile, "not an SQLite database: a stale file the AppHost must delete when it starts", cancel);

        await using var app = await builder.BuildAsync(cancel);
        await app.StartAsync(cancel);

        var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        var healthy = await notifications.WaitForResourceHealthyAsync(PipelineTopology.EmbeddedBroker, cancel);
        // The description the dashboard shows survives DCP's updates of the running process.
        Assert.Contains(healthy.Snapshot.Properties, p => p.Name == PipelineTopology.DescriptionProperty && Equals(p.Value, PipelineTopology.EmbeddedBrokerDescription));
        foreach (var name in Engines.Embedded.Append(PipelineTopology.Analyzer).Append(PipelineTopology.Producer))
        {
            await notifications.WaitForResourceAsync(name, KnownResourceStates.Running, cancel);
            output.WriteLine($"{name}: running");
        }
        // Every engine's readiness check passes: its log said "<engine> ready: ..." once it held its partitions.
        foreach (var name in Engines.Embedded)
            await notifications.WaitForResourceHealthyAsync(name, cancel);

        var bootstrap = await app.GetConnectionStringAsync(PipelineTopology.KafkaConnection, cancel);
        Assert.False(string.IsNullOrEmpty(bootstrap));
        var engines = await EnginesWithResultsAsync(bootstrap!, Engines.Embedded.Count, TimeSpan.FromMinutes(4), cancel);
        Assert.Equal(Engines.Embedded.Order(), engines.Order());
        Assert.True(File.Exists(sqliteFile), $"the sql engine's database {sqliteFile} was not created");

        var commands = app.Services.GetRequiredService<ResourceCommandService>();
        var reset = await commands.ExecuteCommandAsync(PipelineTopology.EmbeddedBroker, PipelineTopology.ResetTopicsCommand, cancel);
        Assert.True(reset.Success, reset.Message);

        // Nothing else stopped: the engines are still running after the topics were emptied under them.
        foreach (var name in Engines.Embedded)
            Assert.Equal(KnownResourceStates.Running, await CurrentStateAsync(notifications, name, cancel));
    }

    private async Task<IReadOnlyCollection<string>> EnginesWithResultsAsync(string bootstrap, int engines, TimeSpan within, CancellationToken cancel)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = $"apphost-test-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe(new PipelineSettings().Topics.Results);
        var seen = new HashSet<string>();
        var deadline = DateTime.UtcNow + within;
        while (seen.Count < engines && DateTime.UtcNow < deadline)
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (record?.Message?.Value is not { } value) continue;
            var result = WireFormat.ParseResult(value);
            if (seen.Add(result.Engine)) output.WriteLine($"first result from {result.Engine}: window {result.WindowStart}, campaign {result.CampaignId}, L1 {result.ComputedAt - result.MaxEventKafkaTs} ms");
        }
        consumer.Close();
        return seen;
    }

    private static async Task<string?> CurrentStateAsync(ResourceNotificationService notifications, string name, CancellationToken cancel)
    {
        var e = await notifications.WaitForResourceAsync(name, _ => true, cancel);
        return e.Snapshot.State?.Text;
    }
}

/// <summary>Tests that start the whole AppHost: one at a time, so two pipelines do not share the two cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunningAppHostCollection
{
    public const string Name = "running apphost";
}
