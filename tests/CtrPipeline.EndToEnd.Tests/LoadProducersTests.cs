using System.Text.RegularExpressions;
using CtrPipeline.Bench;
using CtrPipeline.Bench.Faults;
using CtrPipeline.Bench.Load;
using CtrPipeline.Contracts;
using CtrPipeline.Producer;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>The load made by Producer.Worker processes, followed on the run's progress topic.</summary>
[Collection(PipelineCollection.Name)]
public sealed partial class LoadProducersTests(ITestOutputHelper output)
{
    private static readonly PipelineSettings Pipeline = new() { Partitions = 2 };

    [Fact]
    public async Task Two_producer_processes_send_the_whole_load_with_disjoint_ids_and_report_it()
    {
        var folder = Directory.CreateTempSubdirectory("ctr-load-producers-").FullName;
        await using var kafka = await RunKafka.Embedded(1).OpenAsync("load", Pipeline, TestContext.Timeout);
        using var tap = TapEvents(kafka);
        var options = TwoInstancesLoad;

        await using var load = await LoadProducers.StartAsync(2, options, kafka, CampaignCatalog.DefaultPath, Path.Combine(folder, "run-"), TestContext.Timeout);
        Assert.Equal(2, load.ProcessIds.Distinct().Count());
        Assert.DoesNotContain(Environment.ProcessId, load.ProcessIds);
        await load.RunAsync(TestContext.Timeout).WaitAsync(TimeSpan.FromSeconds(60));

        var p = load.Progress;
        output.WriteLine($"sent {p.Sent}, delivered {p.Delivered}, max schedule lag {p.MaxScheduleLagMs:0.#} ms, offered {p.OfferedRate}");
        await AssertTheWholeLoadArrivedOnceAsync(p, tap);
        Assert.Equal(0, p.DeliveryErrors);
        Assert.Equal(options.Rate, p.OfferedRate, 6); // both instances' shares
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

    [Fact]
    public async Task External_producers_started_from_the_environments_the_run_writes_send_the_whole_load()
    {
        var folder = Directory.CreateTempSubdirectory("ctr-load-producers-").FullName;
        await using var kafka = await RunKafka.Embedded(1).OpenAsync("load", Pipeline, TestContext.Timeout);
        using var tap = TapEvents(kafka);
        var options = TwoInstancesLoad;
        var told = new List<string>();
        var started = new List<ChildProcess>();

        try
        {
            // As a user on another machine would: told where instance i's environment is, start a Producer.Worker with it.
            await using var load = await LoadProducers.AwaitExternalAsync(2, options, kafka, CampaignCatalog.DefaultPath, Path.Combine(folder, "run-"),
                TimeSpan.FromSeconds(30), line =>
                {
                    told.Add(line);
                    var file = EnvironmentFile().Match(line).Groups[1].Value;
                    var environment = File.ReadAllLines(file).Select(l => l.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
                    started.Add(ChildProcess.Start($"external-{started.Count}", "Producer.Worker", environment, Path.Combine(folder, $"external-{started.Count}.log")));
                }, TestContext.Timeout);
            Assert.Empty(load.ProcessIds); // not the benchmark's: not in its apparatus
            await load.RunAsync(TestContext.Timeout).WaitAsync(TimeSpan.FromSeconds(60));

            foreach (var line in told) output.WriteLine(line);
            Assert.Equal(2, told.Count);
            Assert.Contains("producer instance 1 of 2: start a Producer.Worker with the environment in", told[1]);
            await AssertTheWholeLoadArrivedOnceAsync(load.Progress, tap);
            // Once it has reported done, each ends by itself: nothing is left running on the other machine.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (started.Any(process => !process.HasExited) && DateTime.UtcNow < deadline) await Task.Delay(100);
            Assert.All(started, process => Assert.Equal(0, process.ExitCode));
        }
        finally
        {
            foreach (var process in started) process.Dispose();
        }
    }

    [Fact]
    public async Task External_producers_that_do_not_report_before_the_start_fail_the_run_naming_them()
    {
        var folder = Directory.CreateTempSubdirectory("ctr-load-producers-").FullName;
        await using var kafka = await RunKafka.Embedded(1).OpenAsync("load", Pipeline, TestContext.Timeout);
        var options = new ProducerOptions { Rate = 1_000, Duration = TimeSpan.FromSeconds(3) };

        var e = await Assert.ThrowsAsync<WorkerFailedException>(() => LoadProducers.AwaitExternalAsync(2, options, kafka, CampaignCatalog.DefaultPath,
            Path.Combine(folder, "run-"), TimeSpan.FromSeconds(3), _ => { }, TestContext.Timeout).WaitAsync(TimeSpan.FromSeconds(60)));

        output.WriteLine(e.Message);
        Assert.Contains("producer instance(s) 0, 1 of 2 did not report on the progress topic before the load's start", e.Message);
        Assert.Equal(2, Directory.GetFiles(folder, "run-producer-*.env").Length);
    }

    /// <summary>4,000 events/s for 3 s, none malformed: about 12,000 events, half from each of two instances.</summary>
    private static ProducerOptions TwoInstancesLoad => new() { Rate = 4_000, Duration = TimeSpan.FromSeconds(3), Seed = 3, MalformedFraction = 0 };

    private static TopicTap TapEvents(RunTopics kafka) =>
        new(kafka.Kafka, new Dictionary<string, int> { [kafka.Pipeline.Topics.Events] = Pipeline.Partitions }, kafka.Pipeline.Topics.Events);

    /// <summary>Two instances of <see cref="TwoInstancesLoad"/> sent it all, and the topic holds each of their events once.</summary>
    private static async Task AssertTheWholeLoadArrivedOnceAsync(ProducerProgress p, TopicTap tap)
    {
        // Poisson: 12,000 expected in 3 s, standard deviation about 110.
        Assert.InRange(p.Sent, 12_000 - 550, 12_000 + 550);
        Assert.Equal(p.Sent, p.Delivered);
        var tapped = await tap.CompleteAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(p.Delivered, tapped.EventRecords);
        var ids = tapped.Events!.Select(e => e.EventId).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        // Instance 0 numbers its events 1, 3, 5, ..., instance 1 2, 4, 6, ...: each sent about half.
        Assert.All(ids.GroupBy(id => id % 2), g => Assert.InRange(g.Count(), 6_000 - 400, 6_000 + 400));
    }

    [GeneratedRegex("the environment in (.+) before ")]
    private static partial Regex EnvironmentFile();

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
