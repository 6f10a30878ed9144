using System.Globalization;
using System.Text;
using CtrPipeline.Contracts;
using MathNet.Numerics.Distributions;

namespace CtrPipeline.Producer;

/// <summary>
/// One record to send: its Kafka key (the ad id in UTF-8, shared between records of one ad: never modify it) and value,
/// and whether it is a deliberately malformed one.
/// </summary>
public readonly record struct GeneratedRecord(byte[] Key, byte[] Value, long EventTime, bool Malformed)
{
    public string KeyText => Encoding.UTF8.GetString(Key);
}

/// <summary>
/// Draws events for the catalog's ads, reproducibly for a seed: each ad has its own true CTR (Beta around the mean);
/// each event is a click with that probability, else a view; a fraction of events is out of order (event time before
/// the send time by an exponential delay, capped); a fraction of records is malformed, cycling through the kinds of
/// bad input an engine must survive.
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
    private long _nextId;
    private int _nextMalformedKind;

    public EventGenerator(ProducerOptions options, CampaignCatalog catalog, Random random)
    {
        _options = options;
        _random = random;
        _adIds = [.. catalog.Ads.Select(a => a.AdId)];
        _adKeys = [.. _adIds.Select(id => Encoding.UTF8.GetBytes(id.ToString(CultureInfo.InvariantCulture)))];
        var a = options.Ctr * BetaConcentration;
        _adCtr = [.. _adIds.Select(_ => Beta.Sample(random, a, BetaConcentration - a))];
        _meanDelayMs = options.OutOfOrderMeanDelay.TotalMilliseconds;
        _maxDelayMs = options.OutOfOrderMaxDelay.TotalMilliseconds;
    }

    public double TrueCtr(int adIndex) => _adCtr[adIndex];

    /// <summary>The next record for an event that happens at <paramref name="scheduledAt"/> (epoch ms).</summary>
    public GeneratedRecord Next(long scheduledAt)
    {
        var id = ++_nextId;
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
        var e = new AdEvent(id, type, _adIds[ad], _random.Next(1, 1_000_000), eventTime);
        return new GeneratedRecord(_adKeys[ad], WireFormat.Serialize(e), eventTime, Malformed: false);
    }
}
