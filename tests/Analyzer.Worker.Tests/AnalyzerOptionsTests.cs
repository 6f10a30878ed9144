using CtrPipeline.Contracts;

namespace Analyzer.Worker.Tests;

public sealed class AnalyzerOptionsTests
{
    [Fact]
    public void Defaults_are_valid()
    {
        var options = new AnalyzerOptions().Validate();
        Assert.Equal(("ctr-analyzer", TimeSpan.FromSeconds(5), (string?)null), (options.GroupId, options.SummaryInterval, options.SummaryPath));
    }

    [Theory]
    [InlineData("", 5, "Analyzer:GroupId")]
    [InlineData("g", 0, "Analyzer:SummaryInterval")]
    [InlineData("g", -1, "Analyzer:SummaryInterval")]
    public void Invalid_settings_are_named_in_the_error(string groupId, int intervalSeconds, string setting)
    {
        var options = new AnalyzerOptions { GroupId = groupId, SummaryInterval = TimeSpan.FromSeconds(intervalSeconds) };
        Assert.StartsWith(setting, Assert.Throws<ConfigurationException>(() => options.Validate()).Message);
    }
}
