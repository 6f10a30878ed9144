using CtrPipeline.Contracts;
using CtrPipeline.Producer;

namespace Producer.Worker.Tests;

public sealed class EventGeneratorTests
{
    private static readonly CampaignCatalog Catalog = CampaignCatalog.Generate(campaigns: 10, adsPerCampaign: 5);

    private static List<GeneratedRecord> Generate(ProducerOptions options, int n, int seed = 1)
    {
        var generator = new EventGenerator(options, Catalog, new Random(seed));
        return [.. Enumerable.Range(0, n).Select(i => generator.Next(1_000_000 + i))];
    }

    [Fact]
    public void Valid_events_parse_as_the_contract_and_use_only_catalog_ads()
    {
        var records = Generate(new ProducerOptions { MalformedFraction = 0 }, 20_000);
        foreach (var r in records)
        {
            Assert.True(WireFormat.TryParseEvent(r.Value, out var e, out var reason), reason);
            Assert.True(Catalog.TryGetCampaign(e.AdId, out _));
            Assert.Equal(e.AdId.ToString(), r.KeyText); // keyed by ad, so one ad's events stay in order on one partition
            Assert.Equal(e.EventTime, r.EventTime);
        }
        Assert.Equal(records.Count, records.Select(r => WireFormat.TryParseEvent(r.Value, out var e, out _) ? e.EventId : 0).Distinct().Count());
    }

    [Fact]
    public void Click_share_follows_the_configured_ctr()
    {
        var records = Generate(new ProducerOptions { Ctr = 0.1, MalformedFraction = 0 }, 100_000);
        var clicks = records.Count(r => WireFormat.TryParseEvent(r.Value, out var e, out _) && e.EventType == EventType.Click);
        Assert.InRange(clicks / (double)records.Count, 0.09, 0.11);
    }

    [Fact]
    public void Out_of_order_events_lag_their_send_time_by_at_most_the_cap()
    {
        var options = new ProducerOptions
        {
            OutOfOrderFraction = 0.2, MalformedFraction = 0,
            OutOfOrderMeanDelay = TimeSpan.FromMilliseconds(100), OutOfOrderMaxDelay = TimeSpan.FromMilliseconds(250),
        };
        var records = Generate(options, 50_000);
        var delays = records.Select((r, i) => 1_000_000 + i - r.EventTime).ToList();
        Assert.All(delays, d => Assert.InRange(d, 0, 250));
        var share = delays.Count(d => d > 0) / (double)delays.Count;
        Assert.InRange(share, 0.18, 0.205); // a drawn delay below 1 ms rounds to 0 and looks in order
        Assert.Contains(delays, d => d == 250); // the cap is hit by the exponential's tail
    }

    [Fact]
    public void A_skewed_load_puts_each_ad_on_one_partition_and_the_skewed_partitions_events_behind()
    {
        var options = new ProducerOptions
        {
            OutOfOrderFraction = 0, MalformedFraction = 0, SkewedPartitions = 2, PartitionSkew = TimeSpan.FromSeconds(5),
        }.Validate();
        var generator = new EventGenerator(options, Catalog, new Random(1), partitions: 8);
        var records = Enumerable.Range(0, 20_000).Select(i => (Sent: 1_000_000L + i, Record: generator.Next(1_000_000 + i))).ToList();

        var adIndex = Catalog.Ads.Select((ad, i) => (ad.AdId, i)).ToDictionary(x => x.AdId, x => x.i);
        foreach (var (sent, r) in records)
        {
            Assert.True(WireFormat.TryParseEvent(r.Value, out var e, out _));
            Assert.Equal(adIndex[e.AdId] % 8, r.Partition);
            Assert.Equal(r.Partition < 2 ? sent - 5_000 : sent, e.EventTime);
        }
        Assert.Equal(8, records.Select(x => x.Record.Partition).Distinct().Count());
        Assert.Equal(TimeSpan.FromMilliseconds(6_500), options.LongestEventTimeLag); // the out-of-order cap, 1.5 s, and the skew

        Assert.All(Generate(new ProducerOptions { MalformedFraction = 0 }, 100), r => Assert.Null(r.Partition)); // unskewed: the client's partitioner
        Assert.Throws<ConfigurationException>(() => new ProducerOptions { SkewedPartitions = 1 }.Validate()); // a skew of 0
        Assert.Throws<ConfigurationException>(() => new EventGenerator(options, Catalog, new Random(1), partitions: 1));
    }

    [Fact]
    public void Malformed_records_come_at_the_configured_fraction_and_none_is_a_valid_catalog_event()
    {
        var records = Generate(new ProducerOptions { MalformedFraction = 0.05 }, 40_000);
        var malformed = records.Where(r => r.Malformed).ToList();
        Assert.InRange(malformed.Count / (double)records.Count, 0.045, 0.055);
        foreach (var r in malformed)
            Assert.False(WireFormat.TryParseEvent(r.Value, out var e, out _) && Catalog.TryGetCampaign(e.AdId, out _));
        // All four kinds appear: not JSON, missing fields, unknown type, unknown ad.
        Assert.Equal(4, malformed.Select(r => Kind(r.Value)).Distinct().Count());
    }

    private static string Kind(byte[] value)
    {
        var text = System.Text.Encoding.UTF8.GetString(value);
        if (!text.StartsWith('{')) return "not json";
        if (text.Contains("\"purchase\"")) return "unknown type";
        return WireFormat.TryParseEvent(value, out _, out _) ? "unknown ad" : "missing fields";
    }

    [Fact]
    public void The_same_seed_reproduces_the_same_records()
    {
        var options = new ProducerOptions { OutOfOrderFraction = 0.1, MalformedFraction = 0.01 };
        var a = Generate(options, 5_000, seed: 9);
        var b = Generate(options, 5_000, seed: 9);
        Assert.Equal(a.Select(r => Convert.ToBase64String(r.Value)), b.Select(r => Convert.ToBase64String(r.Value)));
    }
}
