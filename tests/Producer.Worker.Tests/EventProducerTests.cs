using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using CtrPipeline.Producer;

namespace Producer.Worker.Tests;

/// <summary>The producer against the embedded broker over real sockets.</summary>
public sealed class EventProducerTests
{
    [Fact]
    public async Task Sends_the_scheduled_events_open_loop_and_every_one_is_delivered()
    {
        var pipeline = new PipelineSettings { Partitions = 2 };
        using var cluster = EmbeddedKafkaCluster.Start(1, pipeline.Topics.All.Select(t => (t, pipeline.Partitions)));
        var options = new ProducerOptions { Rate = 5_000, Duration = TimeSpan.FromSeconds(2), Seed = 11 };
        var producer = new EventProducer(options, pipeline, CampaignCatalog.Generate(5, 4), new KafkaConnection(cluster.BootstrapServers), NullLogger<EventProducer>.Instance);

        await producer.RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

        var p = producer.Progress;
        Assert.InRange(p.Sent, 9_000, 11_000); // Poisson count over 2 s at 5000/s: sd ~ 100
        Assert.Equal(p.Sent, p.Delivered);
        Assert.Equal(0, p.DeliveryErrors);
        Assert.InRange(p.MaxScheduleLagMs, 0, 10_000); // generous: test projects share 2 cores with each other
        var inTopic = cluster.Offsets().Where(o => o.Topic == pipeline.Topics.Events).Sum(o => o.High - o.Low);
        Assert.Equal(p.Sent, inTopic);
    }

    [Fact]
    public async Task At_high_rates_only_probes_carry_delivery_reports_and_the_final_count_is_exact()
    {
        var pipeline = new PipelineSettings { Partitions = 2 };
        using var cluster = EmbeddedKafkaCluster.Start(1, pipeline.Topics.All.Select(t => (t, pipeline.Partitions)));
        var options = new ProducerOptions { Rate = 50_000, Duration = TimeSpan.FromSeconds(2), Seed = 12, Linger = TimeSpan.FromMilliseconds(50) };
        Assert.Equal(156, EventProducer.ProbeEvery(options.Rate, options.Linger, pipeline.Partitions));
        var producer = new EventProducer(options, pipeline, CampaignCatalog.Generate(5, 4), new KafkaConnection(cluster.BootstrapServers), NullLogger<EventProducer>.Instance);

        await producer.RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

        var p = producer.Progress;
        var inTopic = cluster.Offsets().Where(o => o.Topic == pipeline.Topics.Events).Sum(o => o.High - o.Low);
        Assert.Equal(p.Sent, inTopic);
        Assert.Equal(p.Sent, p.Delivered);
        Assert.Equal(0, p.DeliveryErrors);
    }

    [Theory]
    [InlineData(100, 5, 4, 1)]         // a record or so per batch: every record is a probe
    [InlineData(5_000, 5, 4, 1)]
    [InlineData(300_000, 50, 16, 117)] // ~940 records per partition's batch: eight probes in each
    [InlineData(10_000_000, 1000, 1, 1024)]
    public void A_batch_holds_about_eight_probes(double rate, int lingerMs, int partitions, int expected) =>
        Assert.Equal(expected, EventProducer.ProbeEvery(rate, TimeSpan.FromMilliseconds(lingerMs), partitions));
}
