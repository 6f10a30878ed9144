using CtrPipeline.Contracts;
using CtrPipeline.Producer;
using Microsoft.Extensions.Configuration;

namespace Producer.Worker.Tests;

public sealed class ProducerOptionsTests
{
    [Fact]
    public void Defaults_are_valid() => new ProducerOptions().Validate();

    public static TheoryData<Action<ProducerOptions>, string> BadOptions => new()
    {
        { o => o.Rate = -5, "The rate must be a positive number" },
        { o => o.Rate = double.NaN, "The rate must be a positive number" },
        { o => o.Profile = "zipf", "Unknown profile 'zipf'" },
        { o => o.Duration = TimeSpan.Zero, "The duration must be positive" },
        { o => o.Ctr = 1.5, "Producer:Ctr must be between 0 and 1" },
        { o => o.MalformedFraction = -0.1, "Producer:MalformedFraction" },
        { o => o.OutOfOrderMaxDelay = TimeSpan.FromMilliseconds(10), "Producer:OutOfOrderMeanDelay must be positive and at most" },
        { o => o.MmppSwitchRates = [0, 1, 1], "must be a 2 x 2 matrix" },
        { o => o.MmppSwitchRates = [0, -1, 1, 0], "must not be negative" },
        { o => o.MmppRateMultipliers = [0, 0], "one positive value" },
        { o => o.TracedEventsPerSecond = -1, "Producer:TracedEventsPerSecond must be 0" },
        { o => o.Linger = TimeSpan.FromMilliseconds(-1), "Producer:Linger must be between 0 and 5 s" },
        { o => o.Linger = TimeSpan.FromMinutes(1), "Producer:Linger must be between 0 and 5 s" },
        { o => o.Instances = 0, "Producer:Instances must be at least 1 (got 0)" },
        { o => o.Instance = -1, "Producer:Instance must be between 0 and Producer:Instances - 1 = 0 (got -1)" },
        { o => (o.Instance, o.Instances) = (3, 3), "Producer:Instance must be between 0 and Producer:Instances - 1 = 2 (got 3)" },
    };

    [Fact]
    public void The_environment_binds_back_to_the_same_options()
    {
        var options = new ProducerOptions
        {
            Profile = TrafficProfiles.Mmpp, Rate = 12_345.5, Duration = TimeSpan.FromSeconds(90), Seed = 7, Linger = TimeSpan.FromMilliseconds(50),
            Ctr = 0.07, OutOfOrderFraction = 0.2, OutOfOrderMeanDelay = TimeSpan.FromMilliseconds(150), OutOfOrderMaxDelay = TimeSpan.FromSeconds(1),
            SkewedPartitions = 2, PartitionSkew = TimeSpan.FromSeconds(3), MalformedFraction = 0.01, TracedEventsPerSecond = 0.5,
            MmppRateMultipliers = [1, 2, 8], MmppSwitchRates = [0, 0.2, 0.1, 1, 0, 0.5, 2, 1, 0],
            Instance = 2, Instances = 3, ProgressTopic = "progress",
        }.Validate();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(options.Environment().Select(v => KeyValuePair.Create(v.Key.Replace("__", ":"), (string?)v.Value)))
            .Build();

        var bound = configuration.BindSection<ProducerOptions>(ProducerOptions.Section).Validate();

        Assert.Equal(options.Environment(), bound.Environment());
        Assert.Equal([1, 2, 8], bound.MmppRateMultipliersOrDefault); // replaced, not appended to the defaults
        Assert.Equal((2, 3, "progress"), (bound.Instance, bound.Instances, bound.ProgressTopic));
    }

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Bad_options_name_the_setting(Action<ProducerOptions> change, string message)
    {
        var options = new ProducerOptions();
        change(options);
        var e = Assert.Throws<ConfigurationException>(() => options.Validate());
        Assert.Contains(message, e.Message);
    }
}
