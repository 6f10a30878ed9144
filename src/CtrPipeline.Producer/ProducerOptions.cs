using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using static CtrPipeline.Contracts.ConfigurationException;

namespace CtrPipeline.Producer;

/// <summary>The "Producer" configuration section: the offered load and what the generated events look like.</summary>
public sealed class ProducerOptions
{
    public const string Section = "Producer";
    /// <summary>poisson (steady) or mmpp (bursty).</summary>
    public string Profile { get; set; } = TrafficProfiles.Poisson;

    /// <summary>Mean offered rate, events per second (for MMPP the long-run mean over its states).</summary>
    public double Rate { get; set; } = 20_000;

    /// <summary>How long to send; empty = until stopped.</summary>
    public TimeSpan? Duration { get; set; }

    public int Seed { get; set; } = 42;

    /// <summary>
    /// How long the Kafka producer waits to fill a batch (linger.ms): 5 ms by default; the AppHost and the benchmark
    /// set 50 ms on the embedded broker (<see cref="EmbeddedBroker.ProducerLinger"/>).
    /// </summary>
    public TimeSpan Linger { get; set; } = KafkaClients.DefaultLinger;

    /// <summary>Mean true CTR; each ad's own CTR is drawn once around it (Beta distribution).</summary>
    public double Ctr { get; set; } = 0.05;

    /// <summary>Fraction of events whose event time lies before their send time.</summary>
    public double OutOfOrderFraction { get; set; } = 0.05;

    /// <summary>Mean of the exponential delay of out-of-order events.</summary>
    public TimeSpan OutOfOrderMeanDelay { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Cap of that delay; keep it under Pipeline:WatermarkDelay for no late events.</summary>
    public TimeSpan OutOfOrderMaxDelay { get; set; } = TimeSpan.FromMilliseconds(1500);

    /// <summary>
    /// A skewed load: the events of the first <see cref="SkewedPartitions"/> partitions of the events topic carry event
    /// times <see cref="PartitionSkew"/> behind the others' (their sources run late). With skew the producer chooses
    /// each record's partition itself, ad index modulo the partition count, so that every event of an ad, and every
    /// event of a skewed partition, is skewed alike. 0: no skew, the client's partitioner decides.
    /// </summary>
    public int SkewedPartitions { get; set; }

    /// <summary>How far the skewed partitions' event times run behind (see <see cref="SkewedPartitions"/>).</summary>
    public TimeSpan PartitionSkew { get; set; }

    /// <summary>How far before its send time an event's time can lie: the out-of-order delay's cap, plus the skew.</summary>
    public TimeSpan LongestEventTimeLag => OutOfOrderMaxDelay + (SkewedPartitions > 0 ? PartitionSkew : TimeSpan.Zero);

    /// <summary>Fraction of records that are not valid events (not JSON, missing field, unknown type, unknown ad).</summary>
    public double MalformedFraction { get; set; } = 0.001;

    /// <summary>MMPP: each state's rate relative to the others (default normal and a 4x burst).</summary>
    public double[] MmppRateMultipliers { get; set; } = [1, 4];

    /// <summary>MMPP: switching rates per second, row-major N x N (diagonal ignored); default normal->burst 0.1/s, burst->normal 1/s.</summary>
    public double[] MmppSwitchRates { get; set; } = [0, 0.1, 1, 0];

    /// <summary>
    /// Events per second that start a trace (W3C traceparent in the record's headers), spread evenly over the schedule
    /// whatever the offered rate, so tracing costs the same at 1,000 and at 100,000 events/s; 0 turns tracing off.
    /// </summary>
    public double TracedEventsPerSecond { get; set; } = 2;

    /// <summary>A copy with another profile, rate and duration, every other setting kept (a benchmark's next run).</summary>
    public ProducerOptions With(string profile, double rate, TimeSpan duration)
    {
        var copy = Copy();
        (copy.Profile, copy.Rate, copy.Duration) = (profile, rate, duration);
        return copy;
    }

    /// <summary>A copy that lingers <paramref name="linger"/> (the embedded broker's <see cref="EmbeddedBroker.ProducerLinger"/>).</summary>
    public ProducerOptions WithLinger(TimeSpan linger)
    {
        var copy = Copy();
        copy.Linger = linger;
        return copy;
    }

    private ProducerOptions Copy() => (ProducerOptions)MemberwiseClone();

    public ProducerOptions Validate()
    {
        TrafficProfiles.Require(Profile);
        Require(double.IsFinite(Rate) && Rate > 0, $"The rate must be a positive number of events/s (got {Rate}).");
        Require(Duration is null || Duration > TimeSpan.Zero, $"The duration must be positive (got {Duration}).");
        Require(Linger >= TimeSpan.Zero && Linger <= TimeSpan.FromSeconds(5), $"Producer:Linger must be between 0 and 5 s (got {Linger}).");
        Require(Ctr is > 0 and < 1, $"Producer:Ctr must be between 0 and 1, exclusive (got {Ctr}).");
        Require(OutOfOrderFraction is >= 0 and <= 1, $"Producer:OutOfOrderFraction must be between 0 and 1 (got {OutOfOrderFraction}).");
        Require(MalformedFraction is >= 0 and <= 1, $"Producer:MalformedFraction must be between 0 and 1 (got {MalformedFraction}).");
        Require(OutOfOrderMeanDelay > TimeSpan.Zero && OutOfOrderMaxDelay >= OutOfOrderMeanDelay,
            $"Producer:OutOfOrderMeanDelay must be positive and at most Producer:OutOfOrderMaxDelay (got {OutOfOrderMeanDelay} and {OutOfOrderMaxDelay}).");
        Require(SkewedPartitions >= 0, $"The number of skewed partitions must not be negative (got {SkewedPartitions}).");
        Require(PartitionSkew >= TimeSpan.Zero && (SkewedPartitions == 0 || PartitionSkew > TimeSpan.Zero),
            $"The partition skew must be positive when partitions are skewed (got {PartitionSkew} for {SkewedPartitions} partitions).");
        Require(double.IsFinite(TracedEventsPerSecond) && TracedEventsPerSecond >= 0,
            $"Producer:TracedEventsPerSecond must be 0 (no tracing) or a positive number (got {TracedEventsPerSecond}).");
        var n = MmppRateMultipliers.Length;
        Require(n >= 1 && MmppRateMultipliers.All(m => double.IsFinite(m) && m >= 0) && MmppRateMultipliers.Any(m => m > 0),
            "Producer:MmppRateMultipliers needs at least one state, no negative values and one positive value.");
        Require(MmppSwitchRates.Length == n * n, $"Producer:MmppSwitchRates must be a {n} x {n} matrix ({n * n} values, row-major); got {MmppSwitchRates.Length} values.");
        Require(MmppSwitchRates.All(r => double.IsFinite(r) && r >= 0), "Producer:MmppSwitchRates must not be negative.");
        return this;
    }
}
