using CtrPipeline.Bench;
using CtrPipeline.Bench.Load;
using CtrPipeline.Contracts;
using CtrPipeline.Producer;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>The load made by Producer.Worker processes, followed on the run's progress topic.</summary>
[Collection(PipelineCollection.Name)]
public sealed class LoadProducersTests(ITestOutputHelper output)
{
    private static readonly PipelineSettings Pipeline = new() { Partitions = 2 };

    [Fact]
    public async Task Two_producer_processes_send_the_whole_load_with_disjoint_ids_and_report_it()
    {
        var folder = Directory.CreateTempSubdirectory("ctr-load-producers-").FullName;
        await using var kafka = await RunKafka.Embedded(1).OpenAsync("load", Pipeline, TestContext.Timeout);
        var events = kafka.Pipeline.Topics.Events;
        using var tap = new TopicTap(kafka.Kafka, new Dictionary<string, int> { [events] = Pipeline.Partitions }, events);
        var options = new ProducerOptions { Rate = 4_000, Duration = TimeSpan.FromSeconds(3), Seed = 3, MalformedFraction = 0 };

        await using var load = await LoadProducers.StartAsync(2, options, kafka, CampaignCatalog.DefaultPath, Path.Combine(folder, "run-"), TestContext.Timeout);
        Assert.Equal(2, load.ProcessIds.Distinct().Count());
        Assert.DoesNotContain(Environment.ProcessId, load.ProcessIds);
        await load.RunAsync(TestContext.Timeout).WaitAsync(TimeSpan.FromSeconds(60));

        var p = load.Progress;
        output.WriteLine($"sent {p.Sent}, delivered {p.Delivered}, max schedule lag {p.MaxScheduleLagMs:0.#} ms, offered {p.OfferedRate}");
        // Poisson: 12,000 expected in 3 s, standard deviation about 110.
        Assert.InRange(p.Sent, 12_000 - 550, 12_000 + 550);
        Assert.Equal(p.Sent, p.Delivered);
        Assert.Equal(0, p.DeliveryErrors);
        Assert.Equal(options.Rate, p.OfferedRate, 6); // both instances' shares
        var tapped = await tap.CompleteAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(p.Delivered, tapped.EventRecords);
        var ids = tapped.Events!.Select(e => e.EventId).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        // Instance 0 numbers its events 1, 3, 5, ..., instance 1 2, 4, 6, ...: each sent about half.
        Assert.All(ids.GroupBy(id => id % 2), g => Assert.InRange(g.Count(), 6_000 - 400, 6_000 + 400));
        Assert.Equal(2, Directory.GetFiles(folder, "run-producer-*.log").Length); // their output, in the run's folder
    }

    [Fact]
    public async Task A_producer_process_that_exits_early_fails_the_load_with_its_error()
    {
        var folder = Directory.CreateTempSubdirectory("ctr-load-producers-").FullName;
        await using var kafka = await RunKafka.Embedded(1).OpenAsync("load", Pipeline, TestContext.Timeout);
        var options = new ProducerOptions { Rate = 1_000, Duration = TimeSpan.FromSeconds(30), Ctr = 1.5 }; // refused by the worker

        await using var load = await LoadProducers.StartAsync(1, options, kafka, CampaignCatalog.DefaultPath, Path.Combine(folder, "run-"), TestContext.Timeout);
        var e = await Assert.ThrowsAsync<WorkerFailedException>(() => load.RunAsync(TestContext.Timeout).WaitAsync(TimeSpan.FromSeconds(30)));

        output.WriteLine(e.Message);
        Assert.Contains("producer instance 0 of 1", e.Message);
        Assert.Contains("exited with code 2 before reporting done", e.Message);
        Assert.Contains("Producer:Ctr must be between 0 and 1", e.Message);
    }

    [Theory]
    [InlineData(1_000, 1)]
    [InlineData(200_000, 1)]
    [InlineData(200_001, 2)]
    [InlineData(1_000_000, 5)]
    public void By_default_one_producer_process_per_200000_events_per_second(double rate, int processes)
    {
        var settings = OracleEndToEndTests.ShortRun("poisson").With("poisson", rate, TimeSpan.FromSeconds(30));
        Assert.Equal(processes, settings.ProducerProcesses);
        Assert.Equal(0, (settings with { Producers = 0 }).ProducerProcesses);
    }
}
