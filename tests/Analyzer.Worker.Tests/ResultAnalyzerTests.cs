using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Xunit.Abstractions;
using static Analyzer.Worker.Tests.LatencyRecorderTests;

namespace Analyzer.Worker.Tests;

/// <summary>The analyzer against an embedded Kafka cluster, with real clients over TCP.</summary>
public sealed class ResultAnalyzerTests(ITestOutputHelper output) : IDisposable
{
    private readonly PipelineSettings _pipeline = new PipelineSettings { Partitions = 2 }.Validate();
    private readonly EmbeddedKafkaCluster _cluster = EmbeddedKafkaCluster.Start(1, [("ctr_results", 2)]);
    private readonly string _summaryPath = Path.Combine(Path.GetTempPath(), $"analyzer-{Guid.NewGuid():N}", "summary.json");

    [Fact]
    public async Task Analyzer_measures_every_result_row_and_commits_what_it_read()
    {
        using var metrics = new AnalyzerMeterCapture();
        var analyzer = NewAnalyzer(TimeSpan.FromMilliseconds(200));
        using var stop = new CancellationTokenSource();
        var running = analyzer.RunAsync(stop.Token);
        await analyzer.Assigned.WaitAsync(Wait.Limit);

        // Continuous: L1 = 100, 200, ..., 1000 ms, every other row final. Micro-batch: four rows with L1 = 7 ms.
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using (var producer = new ProducerBuilder<string, byte[]>(KafkaClients.Producer(new KafkaConnection(_cluster.BootstrapServers), "test-engine")).Build())
        {
            for (var i = 1; i <= 10; i++)
            {
                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                Produce(producer, Row(Engines.NativeContinuous, now - 100 * i, now, final: i % 2 == 0));
            }
            for (var i = 0; i < 4; i++)
            {
                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                Produce(producer, Row(Engines.NativeMicroBatch, now - 7, now));
            }
            Assert.Equal(0, producer.Flush(Wait.Limit));
        }
        await Wait.Until(() => analyzer.Snapshot().Sum(e => e.Results) == 14, "the analyzer to read 14 rows");
        var elapsed = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - before;

        var snapshot = analyzer.Snapshot();
        Assert.Equal([Engines.NativeContinuous, Engines.NativeMicroBatch], snapshot.Select(e => e.Engine));
        var (continuous, microBatch) = (snapshot[0], snapshot[1]);
        Assert.Equal((10L, 5L), (continuous.Results, continuous.FinalResults));
        Assert.Equal((4L, 4L), (microBatch.Results, microBatch.FinalResults));
        Assert.Equal(new LatencyPercentiles(10, 500, 900, 1_000, 1_000, 1_000, 0), continuous.L1);
        Assert.Equal(new LatencyPercentiles(4, 7, 7, 7, 7, 7, 0), microBatch.L1);
        foreach (var e in snapshot)
        {
            Assert.Equal(TimestampType.CreateTime, e.TimestampType); // the embedded broker keeps the producer's timestamp
            Assert.Equal((e.Results, 0L), (e.L2.Count, e.L2.ClampedNegative));
            Assert.Equal((e.Results, 0L), (e.L2Received.Count, e.L2Received.ClampedNegative));
            Assert.InRange(e.L2.Max, 0, elapsed);
            Assert.InRange(e.L2Received.Max, 0, elapsed);
        }
        Assert.Equal(0, analyzer.Malformed);

        // Live metrics carry the same values, tagged by engine; the counter tells final from provisional rows.
        Assert.Equal(Enumerable.Range(1, 10).Select(i => 100.0 * i), metrics.Values("ctr.analyzer.l1", Engines.NativeContinuous).Order());
        Assert.Equal(4, metrics.Values("ctr.analyzer.l2", Engines.NativeMicroBatch).Count());
        Assert.Equal(4, metrics.Values("ctr.analyzer.l2_received", Engines.NativeMicroBatch).Count());
        var finals = metrics.Measurements.Where(m => m.Instrument.Name == "ctr.analyzer.results" && Equals(m.Tags["engine"], Engines.NativeContinuous))
            .GroupBy(m => (bool)m.Tags["final"]!).ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        Assert.Equal(5, finals[true]);
        Assert.Equal(5, finals[false]);
        var l1 = Assert.IsType<Histogram<double>>(metrics.Measurements.First(m => m.Instrument.Name == "ctr.analyzer.l1").Instrument);
        Assert.Equal(("ms", 0.1, 60_000.0), (l1.Unit, l1.Advice!.HistogramBucketBoundaries![0], l1.Advice.HistogramBucketBoundaries[^1]));

        await stop.CancelAsync();
        await running.WaitAsync(Wait.Limit);

        // The last summary was written at stop, and the group's offsets point past every row.
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(_summaryPath));
        Assert.Equal([10L, 4L], summary.RootElement.GetProperty("engines").EnumerateArray().Select(e => e.GetProperty("results").GetInt64()));
        Assert.Equal(LatencyDefinitions.CreateTimeNote, summary.RootElement.GetProperty("timestamp_note").GetString());
        Assert.Equal(_cluster.Offsets().Sum(o => o.High), Committed().Sum());
    }

    [Fact]
    public async Task Records_that_are_not_result_rows_are_counted_and_skipped()
    {
        var analyzer = NewAnalyzer(TimeSpan.FromSeconds(30));
        using var stop = new CancellationTokenSource();
        var running = analyzer.RunAsync(stop.Token);
        await analyzer.Assigned.WaitAsync(Wait.Limit);

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var valid = WireFormat.Serialize(Row("sql", now - 50, now));
        var withoutEngine = Encoding.UTF8.GetString(valid).Replace("\"engine\":\"sql\"", "\"engine\":null");
        Assert.NotEqual(Encoding.UTF8.GetString(valid), withoutEngine);
        byte[]?[] malformed =
        [
            "not json"u8.ToArray(),
            valid[..^5],                                                       // cut short
            Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(valid).Replace("\"computed_at\"", "\"computed\"")), // a field missing
            Encoding.UTF8.GetBytes(withoutEngine),
            null,                                                              // a tombstone
        ];
        using (var producer = new ProducerBuilder<byte[], byte[]?>(KafkaClients.Producer(new KafkaConnection(_cluster.BootstrapServers), "test-garbage")).Build())
        {
            foreach (var value in malformed)
                producer.Produce(new TopicPartition("ctr_results", 0), new Message<byte[], byte[]?> { Key = [0xff, 0xfe], Value = value });
            // A key that is not text does not matter: the row is still measured.
            for (var i = 0; i < 3; i++)
                producer.Produce(new TopicPartition("ctr_results", 0), new Message<byte[], byte[]?> { Key = [0xff, 0xfe], Value = valid });
            Assert.Equal(0, producer.Flush(Wait.Limit));
        }

        await Wait.Until(() => analyzer.Malformed == malformed.Length && analyzer.Snapshot().Sum(e => e.Results) == 3, "5 malformed and 3 good records");
        Assert.False(running.IsCompleted);
        var sql = Assert.Single(analyzer.Snapshot());
        Assert.Equal(("sql", 3L, 50.0), (sql.Engine, sql.L1.Count, sql.L1.Max));

        await stop.CancelAsync();
        await running.WaitAsync(Wait.Limit);
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(_summaryPath));
        Assert.Equal(malformed.Length, summary.RootElement.GetProperty("malformed").GetInt64());
    }

    private ResultAnalyzer NewAnalyzer(TimeSpan summaryInterval) => new(
        new AnalyzerOptions { GroupId = "analyzer-test", SummaryInterval = summaryInterval, SummaryPath = _summaryPath }.Validate(),
        _pipeline, new KafkaConnection(_cluster.BootstrapServers), new TestOutputLogger(output));

    private static void Produce(IProducer<string, byte[]> producer, CtrResult row) =>
        producer.Produce("ctr_results", new Message<string, byte[]> { Key = row.CampaignId.ToString(), Value = WireFormat.Serialize(row) });

    private List<long> Committed()
    {
        using var probe = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _cluster.BootstrapServers, GroupId = "analyzer-test" }).Build();
        return [.. probe.Committed([new TopicPartition("ctr_results", 0), new TopicPartition("ctr_results", 1)], Wait.Limit)
            .Select(o => Math.Max(0, o.Offset.Value))];
    }

    public void Dispose()
    {
        _cluster.Dispose();
        if (Directory.Exists(Path.GetDirectoryName(_summaryPath))) Directory.Delete(Path.GetDirectoryName(_summaryPath)!, recursive: true);
    }
}
