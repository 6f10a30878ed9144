using System.Text;
using Confluent.Kafka;
using CtrPipeline.Bench;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// The event contract of docs/contract.md on a real (embedded) broker, for each engine that runs in-process: hostile
/// records among good events. Each one gets its dead-letter reason, an event with extra fields is counted, no record
/// moves the watermark out of reach (nothing is late), and the final rows equal the oracle's recount.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class ContractEndToEndTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private const string WrongType = "malformed: event_type must be \"view\" or \"click\" (case-sensitive)";

    private readonly PipelineSettings _pipeline = new PipelineSettings
    {
        Partitions = 2,
        WindowSize = TimeSpan.FromSeconds(10),
        WatermarkDelay = TimeSpan.FromSeconds(2),
        IdleTimeout = TimeSpan.FromMinutes(1),
        WatermarkInterval = TimeSpan.FromMilliseconds(50),
        TriggerInterval = TimeSpan.FromMilliseconds(200),
    }.Validate();

    private readonly CampaignCatalog _catalog = CampaignCatalog.Generate(campaigns: 3, adsPerCampaign: 2);

    [Theory]
    [InlineData(Engines.NativeContinuous)]
    [InlineData(Engines.NativeMicroBatch)]
    [InlineData(EngineTarget.SqlSqlite)]
    public async Task Hostile_records_get_their_dead_letter_reason_and_the_counts_equal_the_oracle(string name)
    {
        var target = EngineTarget.Parse(name, postgres: null).Single();
        var folder = Directory.CreateTempSubdirectory("ctr-contract-").FullName;
        using var cluster = EmbeddedKafkaCluster.Start(1, _pipeline.Topics.All.Select(t => (t, _pipeline.Partitions)));
        using var tap = new TopicTap(new KafkaConnection(cluster.BootstrapServers), cluster.Topics, _pipeline.Topics.Events);
        using var producer = new ProducerBuilder<string, byte[]>(KafkaClients.Producer(new KafkaConnection(cluster.BootstrapServers), "contract-test")).Build();
        var runner = target.Start!(new TargetContext(new KafkaConnection(cluster.BootstrapServers), _pipeline, _catalog, "contract", folder, NullLoggerFactory.Instance));
        var running = runner.RunAsync(CancellationToken.None);
        await runner.Assigned.WaitAsync(Limit);

        // Good events in two windows a minute ago, on both partitions, with the hostile records in between.
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var t0 = (now - 60_000) / 10_000 * 10_000;
        var id = 0;
        void Send(int partition, string json) =>
            producer.Produce(new TopicPartition(_pipeline.Topics.Events, partition), new Message<string, byte[]> { Key = "k", Value = Encoding.UTF8.GetBytes(json) });
        void Event(int partition, long time, int ad, string type = "view", string extra = "") =>
            Send(partition, $$"""{"event_id":{{++id}},"event_type":"{{type}}","ad_id":{{ad}},"user_id":7,"event_time":{{time}}{{extra}}}""");

        for (var i = 0; i < 40; i++) Event(i % 2, t0 + i * 250, ad: i % 6 + 1, type: i % 5 == 0 ? "click" : "view");
        Event(0, t0 + 1_000, ad: 1, type: "VIEW");
        Event(1, t0 + 2_000, ad: 3, type: "Click");
        Event(0, t0 + 3_000, ad: 3, extra: ""","campaign":"c-2","device":{"os":"linux"},"tags":[1,2]""");
        Event(0, 7_258_118_400_000, ad: 1); // the year 2200: a producer with a broken clock
        Event(1, now + 10 * 60_000, ad: 2);  // ten minutes ahead, twice the allowed skew
        Event(0, 0, ad: 1);
        Event(1, -5_000, ad: 5);
        for (var i = 40; i < 80; i++) Event(i % 2, t0 + i * 250, ad: i % 6 + 1);
        Event(0, t0 + 25_000, ad: 2); // moves both partitions past the first two windows
        Event(1, t0 + 25_000, ad: 4);
        Assert.Equal(0, producer.Flush(Limit));

        await Until(() => runner.Progress.Consumed == 89, runner);
        await runner.DrainAsync(CancellationToken.None).WaitAsync(Limit);
        await running.WaitAsync(Limit);
        var progress = runner.Progress;
        var records = await tap.CompleteAsync(Limit);
        var oracle = Oracle.Verify(records, _pipeline, _catalog, target.Engine);
        if (target.Finish is not null) await target.Finish("contract", folder);
        Directory.Delete(folder, recursive: true);

        foreach (var example in oracle.Examples) output.WriteLine(example);
        Assert.Equal(OracleVerdict.Match, oracle.Verdict);
        Assert.Equal(8, oracle.ExpectedRows); // 3 campaigns in each of the two windows, 2 in the closers' window
        var reasons = records[_pipeline.Topics.DeadLetters]
            .Where(r => Header(r, "engine") == target.Engine)
            .Select(r => Header(r, "error")!)
            .ToList();
        foreach (var reason in reasons) output.WriteLine(reason);
        Assert.Equal(2, reasons.Count(r => r.StartsWith(WrongType, StringComparison.Ordinal)));
        Assert.Equal(4, reasons.Count(r => r == AdEvent.EventTimeOutOfRange));
        Assert.Equal(6, reasons.Count);
        Assert.Empty(records[_pipeline.Topics.Late]);
        Assert.Equal((83L, 0L, 6L), (progress.Accepted, progress.Late, progress.Bad));
    }

    private static async Task Until(Func<bool> condition, Streaming.IEngineRunner runner)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"gave up waiting; the engine consumed {runner.Progress.Consumed}");
            await Task.Delay(20);
        }
    }

    private static string? Header(ConsumeResult<string, byte[]> record, string key) =>
        record.Message.Headers is { } headers && headers.TryGetLastBytes(key, out var value) ? Encoding.UTF8.GetString(value) : null;
}
