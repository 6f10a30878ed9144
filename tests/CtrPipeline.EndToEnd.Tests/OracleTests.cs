using System.Text;
using Confluent.Kafka;
using CtrPipeline.Bench;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>The oracle itself must be able to fail: hand-made events and results on a real (embedded) broker.</summary>
public sealed class OracleTests : IDisposable
{
    private const string Engine = Engines.NativeContinuous;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly PipelineSettings _pipeline = new() { WindowSize = TimeSpan.FromSeconds(10), Partitions = 2 };
    private readonly CampaignCatalog _catalog = CampaignCatalog.Generate(campaigns: 2, adsPerCampaign: 2); // ads 1,2 -> 1; 3,4 -> 2
    private readonly EmbeddedKafkaCluster _cluster;
    private readonly IProducer<string, byte[]> _producer;

    public OracleTests()
    {
        _cluster = EmbeddedKafkaCluster.Start(1, _pipeline.Topics.All.Select(t => (t, _pipeline.Partitions)));
        _producer = new ProducerBuilder<string, byte[]>(KafkaClients.Producer(new KafkaConnection(_cluster.BootstrapServers), "oracle-test")).Build();

        // Window [0, 10 s): campaign 1 has 2 views + 1 click, campaign 2 one view; window [10 s, 20 s): campaign 1 one view.
        Event(1, EventType.View, adId: 1, time: 1_000);
        Event(2, EventType.View, adId: 2, time: 2_000);
        Event(3, EventType.Click, adId: 1, time: 3_000);
        Event(4, EventType.View, adId: 3, time: 9_999);
        Event(5, EventType.View, adId: 2, time: 10_000);
        Send(_pipeline.Topics.Events, "x", Encoding.UTF8.GetBytes("not json")); // malformed: not counted
        Event(6, EventType.View, adId: 99, time: 4_000);                       // unknown ad: not counted
    }

    [Fact]
    public void Matching_final_rows_are_a_match()
    {
        Result(0, campaign: 1, views: 2, clicks: 1);
        Result(0, campaign: 2, views: 1, clicks: 0);
        Result(10_000, campaign: 1, views: 1, clicks: 0);
        Result(0, campaign: 1, views: 1, clicks: 0, final: false); // update-mode rows are not final and do not count

        var report = Verify();

        Assert.Equal(OracleVerdict.Match, report.Verdict);
        Assert.Equal(3, report.ExpectedRows);
    }

    [Fact]
    public void A_wrong_count_a_missing_row_and_a_duplicate_are_mismatches()
    {
        Result(0, campaign: 1, views: 2, clicks: 0);       // wrong clicks
        Result(10_000, campaign: 1, views: 1, clicks: 0);
        Result(10_000, campaign: 1, views: 1, clicks: 0);  // emitted twice
        // campaign 2's row is missing

        var report = Verify();

        Assert.Equal(OracleVerdict.Mismatch, report.Verdict);
        Assert.Equal(3, report.Differences);
    }

    [Fact]
    public void Events_the_engine_declared_late_are_left_out_of_the_expectation()
    {
        var late = new Headers { { "engine", Encoding.UTF8.GetBytes(Engine) } };
        Send(_pipeline.Topics.Late, "2", WireFormat.Serialize(new AdEvent(5, EventType.View, 2, 1, 10_000)), late);
        Result(0, campaign: 1, views: 2, clicks: 1);
        Result(0, campaign: 2, views: 1, clicks: 0);

        Assert.Equal(OracleVerdict.Match, Verify().Verdict);
    }

    private OracleReport Verify()
    {
        _producer.Flush(Timeout);
        using var tap = new TopicTap(new KafkaConnection(_cluster.BootstrapServers), _cluster.Topics, _pipeline.Topics.Events);
        return Oracle.Verify(tap.CompleteAsync(Timeout).GetAwaiter().GetResult(), _pipeline, _catalog, Engine);
    }

    private void Event(long id, EventType type, int adId, long time) =>
        Send(_pipeline.Topics.Events, adId.ToString(), WireFormat.Serialize(new AdEvent(id, type, adId, 1, time)));

    private void Result(long windowStart, int campaign, long views, long clicks, bool final = true) =>
        Send(_pipeline.Topics.Results, campaign.ToString(), WireFormat.Serialize(new CtrResult(
            Engine, windowStart, windowStart + 10_000, campaign, views, clicks, CtrResult.Rate(views, clicks), 0, 0, final)));

    private void Send(string topic, string key, byte[] value, Headers? headers = null) =>
        _producer.Produce(topic, new Message<string, byte[]> { Key = key, Value = value, Headers = headers });

    public void Dispose()
    {
        _producer.Dispose();
        _cluster.Dispose();
    }
}
