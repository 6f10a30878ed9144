using CtrPipeline.Contracts;
using CtrPipeline.Producer;

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
    };

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
