using CtrPipeline.Contracts;

namespace NativeEngine.Worker.Tests;

public sealed class EngineOptionsTests
{
    [Fact]
    public void Exactly_once_is_the_default_and_an_unknown_guarantee_is_a_configuration_error()
    {
        var options = new EngineOptions().Validate();
        Assert.True(options.IsExactlyOnce);
        Assert.Equal("ctr-native-continuous-results", options.TransactionalId);
        Assert.False(new EngineOptions { Guarantee = EngineOptions.AtLeastOnce }.Validate().IsExactlyOnce);

        var error = Assert.Throws<ConfigurationException>(() => new EngineOptions { Guarantee = "Exactly-Once" }.Validate());
        Assert.Equal("Engine:Guarantee must be exactly-once or at-least-once (got 'Exactly-Once').", error.Message);
    }
}
