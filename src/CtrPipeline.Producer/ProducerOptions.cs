using System.Globalization;
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

    /// <summary>
    /// MMPP: each state's rate relative to the others; unset, a normal state and a 4x burst. Unset rather than given
    /// that default, because configuration binding appends the configured values to an array it finds.
    /// </summary>
    public double[]? MmppRateMultipliers { get; set; }

    /// <summary>MMPP: switching rates per second, row-major N x N (diagonal ignored); unset, normal->burst 0.1/s, burst->normal 1/s.</summary>
    public double[]? MmppSwitchRates { get; set; }

    public double[] MmppRateMultipliersOrDefault => MmppRateMultipliers ?? [1, 4];

    public double[] MmppSwitchRatesOrDefault => MmppSwitchRates ?? [0, 0.1, 1, 0];

    /// <summary>
    /// Events per second that start a trace (W3C traceparent in the record's headers), spread evenly over the schedule
    /// whatever the offered rate, so tracing costs the same at 1,000 and at 100,000 events/s; 0 turns tracing off.
    /// </summary>
    public double TracedEventsPerSecond { get; set; } = 2;

    /// <summary>
    /// This process's place among the <see cref="Instances"/> producers that share the load (0-based): it sends
    /// Rate / Instances with its own random stream and event ids Instance + 1, Instance + 1 + Instances, ...
    /// </summary>
    public int Instance { get; set; }

    /// <summary>How many producer processes share the load; <see cref="Rate"/> stays the total of them all.</summary>
    public int Instances { get; set; } = 1;

    /// <summary>
    /// When the load starts (Unix ms), so that the instances of a run share one time base and none starts while the
    /// others' processes are still starting; before it, the producer waits with its client connected. Unset: at once.
    /// </summary>
    public long? StartAtUnixMs { get; set; }

    /// <summary>A Kafka topic the producer reports its progress to (<see cref="LoadProgressRecord"/>); empty: none.</summary>
    public string? ProgressTopic { get; set; }

    /// <summary>
    /// A random stream every instance of the run shares (the ads' true CTRs, the MMPP's bursts), so that they agree:
    /// a function of <see cref="Seed"/> and <paramref name="purpose"/> alone.
    /// </summary>
    public Random SharedRandom(SharedStream purpose) => new(Mix(Seed, -1 - (int)purpose));

    /// <summary>This instance's own random stream (its arrivals and events): a function of <see cref="Seed"/> and <see cref="Instance"/>.</summary>
    public Random InstanceRandom() => new(Mix(Seed, Instance));

    /// <summary>SplitMix64's finaliser over both numbers: nearby seeds and instances give unrelated streams.</summary>
    private static int Mix(int seed, int stream)
    {
        var z = unchecked(((ulong)(uint)seed << 32 | (uint)stream) + 0x9E3779B97F4A7C15);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EB);
        return (int)(z ^ (z >> 31));
    }

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

    /// <summary>
    /// A copy for instance <paramref name="instance"/> of <paramref name="instances"/> that report to
    /// <paramref name="progressTopic"/> and start at <paramref name="startAtUnixMs"/>.
    /// </summary>
    public ProducerOptions ForInstance(int instance, int instances, string? progressTopic, long? startAtUnixMs = null)
    {
        var copy = Copy();
        (copy.Instance, copy.Instances, copy.ProgressTopic, copy.StartAtUnixMs) = (instance, instances, progressTopic, startAtUnixMs);
        return copy;
    }

    private ProducerOptions Copy() => (ProducerOptions)MemberwiseClone();

    /// <summary>
    /// The environment variables a Producer.Worker binds back to these options (Producer__Rate and so on): every
    /// setting, so a producer started elsewhere sends exactly this load.
    /// </summary>
    public IReadOnlyDictionary<string, string> Environment()
    {
        static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);
        static string Span(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);
        const string prefix = Section + "__";
        var variables = new Dictionary<string, string>
        {
            [prefix + nameof(Profile)] = Profile,
            [prefix + nameof(Rate)] = Text(Rate),
            [prefix + nameof(Seed)] = Seed.ToString(CultureInfo.InvariantCulture),
            [prefix + nameof(Linger)] = Span(Linger),
            [prefix + nameof(Ctr)] = Text(Ctr),
            [prefix + nameof(OutOfOrderFraction)] = Text(OutOfOrderFraction),
            [prefix + nameof(OutOfOrderMeanDelay)] = Span(OutOfOrderMeanDelay),
            [prefix + nameof(OutOfOrderMaxDelay)] = Span(OutOfOrderMaxDelay),
            [prefix + nameof(SkewedPartitions)] = SkewedPartitions.ToString(CultureInfo.InvariantCulture),
            [prefix + nameof(PartitionSkew)] = Span(PartitionSkew),
            [prefix + nameof(MalformedFraction)] = Text(MalformedFraction),
            [prefix + nameof(TracedEventsPerSecond)] = Text(TracedEventsPerSecond),
            [prefix + nameof(Instance)] = Instance.ToString(CultureInfo.InvariantCulture),
            [prefix + nameof(Instances)] = Instances.ToString(CultureInfo.InvariantCulture),
        };
        if (Duration is { } duration) variables[prefix + nameof(Duration)] = Span(duration);
        if (StartAtUnixMs is { } startAt) variables[prefix + nameof(StartAtUnixMs)] = startAt.ToString(CultureInfo.InvariantCulture);
        if (!string.IsNullOrEmpty(ProgressTopic)) variables[prefix + nameof(ProgressTopic)] = ProgressTopic;
        for (var i = 0; i < MmppRateMultipliers?.Length; i++) variables[$"{prefix}{nameof(MmppRateMultipliers)}__{i}"] = Text(MmppRateMultipliers[i]);
        for (var i = 0; i < MmppSwitchRates?.Length; i++) variables[$"{prefix}{nameof(MmppSwitchRates)}__{i}"] = Text(MmppSwitchRates[i]);
        return variables;
    }

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
        Require(Instances >= 1, $"Producer:Instances must be at least 1 (got {Instances}).");
        Require(Instance >= 0 && Instance < Instances, $"Producer:Instance must be between 0 and Producer:Instances - 1 = {Instances - 1} (got {Instance}).");
        var (multipliers, switchRates) = (MmppRateMultipliersOrDefault, MmppSwitchRatesOrDefault);
        var n = multipliers.Length;
        Require(n >= 1 && multipliers.All(m => double.IsFinite(m) && m >= 0) && multipliers.Any(m => m > 0),
            "Producer:MmppRateMultipliers needs at least one state, no negative values and one positive value.");
        Require(switchRates.Length == n * n, $"Producer:MmppSwitchRates must be a {n} x {n} matrix ({n * n} values, row-major); got {switchRates.Length} values.");
        Require(switchRates.All(r => double.IsFinite(r) && r >= 0), "Producer:MmppSwitchRates must not be negative.");
        return this;
    }
}
