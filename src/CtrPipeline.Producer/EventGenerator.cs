using System.Globalization;
using System.Text;
using CtrPipeline.Contracts;
using MathNet.Numerics.Distributions;

namespace CtrPipeline.Producer;

/// <summary>
/// One record to send: its Kafka key (the ad id in UTF-8, shared between records of one ad: never modify it) and value,
/// whether it is a deliberately malformed one, and its partition when the generator chooses it (a skewed load).
/// </summary>
public readonly record struct GeneratedRecord(byte[] Key, byte[] Value, long EventTime, bool Malformed, int? Partition = null)
{
    public string KeyText => Encoding.UTF8.GetString(Key);
}

/// <summary>
/// Draws events for the catalog's ads, reproducibly for a seed: each ad has its own true CTR (Beta around the mean);
/// each event is a click with that probability, else a view; a fraction of events is out of order (event time before
/// the send time by an exponential delay, capped); a fraction of records is malformed, cycling through the kinds of
/// bad input an engine must survive. With a skewed load (<see cref="ProducerOptions.SkewedPartitions"/>) each ad's
/// events go to partition ad index modulo <c>partitions</c>, and those of the skewed partitions lag by the skew.
/// The ads' CTRs come from the run's shared stream, so every producer instance agrees on them; the events come from
/// the instance's <c>random</c>, with ids of its own: instance i of N numbers its events i + 1, i + 1 + N, ...
/// </summary>
public sealed class EventGenerator
{
    private const double BetaConcentration = 50;
    private static readonly byte[] MalformedKey = "malformed"u8.ToArray();
    private static readonly Func<long, long, byte[]>[] MalformedKinds =
    [
        (id, _) => Encoding.UTF8.GetBytes($"not json {id}"),
        (id, t) => Encoding.UTF8.GetBytes($"{{\"event_id\":{id},\"event_type\":\"view\",\"event_time\":{t}}}"), // no ad_id, no user_id
        (id, t) => Encoding.UTF8.GetBytes($"{{\"event_id\":{id},\"event_type\":\"purchase\",\"ad_id\":1,\"user_id\":1,\"event_time\":{t}}}"),
        (id, t) => WireFormat.Serialize(new AdEvent(id, EventType.View, -1, 1, t)), // unknown ad
    ];

    private readonly ProducerOptions _options;
    private readonly Random _random;
    private readonly int[] _adIds;
    private readonly byte[][] _adKeys;
    private readonly double[] _adCtr;
    private readonly double _meanDelayMs;
    private readonly double _maxDelayMs;
    private readonly int _partitions;
    private readonly long _skewMs;
    private long _sent;
    private int _nextMalformedKind;

    /// <param name="random">The instance's own stream (<see cref="ProducerOptions.InstanceRandom"/>) the events are drawn from.</param>
    /// <param name="partitions">Partitions of the events topic; a skewed load needs them.</param>
    public EventGenerator(ProducerOptions options, CampaignCatalog catalog, Random random, int partitions = 1)
    {
        ConfigurationException.Require(options.SkewedPartitions <= partitions,
            $"{options.SkewedPartitions} skewed partitions asked of an events topic with {partitions}.");
        _partitions = partitions;
        _skewMs = options.SkewedPartitions > 0 ? (long)options.PartitionSkew.TotalMilliseconds : 0;
        _options = options;
        _random = random;
        _adIds = [.. catalog.Ads.Select(a => a.AdId)];
        _adKeys = [.. _adIds.Select(id => Encoding.UTF8.GetBytes(id.ToString(CultureInfo.InvariantCulture)))];
        var a = options.Ctr * BetaConcentration;
        var shared = options.SharedRandom(SharedStream.AdCtrs);
        _adCtr = [.. _adIds.Select(_ => Beta.Sample(shared, a, BetaConcentration - a))];
        _meanDelayMs = options.OutOfOrderMeanDelay.TotalMilliseconds;
        _maxDelayMs = options.OutOfOrderMaxDelay.TotalMilliseconds;
    }

    public double TrueCtr(int adIndex) => _adCtr[adIndex];

    /// <summary>The next record for an event that happens at <paramref name="scheduledAt"/> (epoch ms).</summary>
    public GeneratedRecord Next(long scheduledAt)
    {
        var id = _sent++ * _options.Instances + _options.Instance + 1;
        if (_random.NextDouble() < _options.MalformedFraction)
        {
            var kind = MalformedKinds[_nextMalformedKind++ % MalformedKinds.Length];
            return new GeneratedRecord(MalformedKey, kind(id, scheduledAt), scheduledAt, Malformed: true);
        }

        var ad = _random.Next(_adIds.Length);
        var type = _random.NextDouble() < _adCtr[ad] ? EventType.Click : EventType.View;
        var eventTime = scheduledAt;
        if (_random.NextDouble() < _options.OutOfOrderFraction)
            eventTime -= (long)Math.Min(_maxDelayMs, Exponential.Sample(_random, 1 / _meanDelayMs));
        int? partition = null;
        if (_skewMs > 0)
        {
            partition = ad % _partitions;
            if (partition < _options.SkewedPartitions) eventTime -= _skewMs;
        }
        var e = new AdEvent(id, type, _adIds[ad], _random.Next(1, 1_000_000), eventTime);
        return new GeneratedRecord(_adKeys[ad], WireFormat.Serialize(e), eventTime, Malformed: false, partition);
    }
}
