using CtrPipeline.Bench;

namespace CtrPipeline.EndToEnd.Tests;

[Collection(ConsoleCollection.Name)]
public sealed class BenchCommandLineTests
{
    [Theory]
    [InlineData("--rate -5", "rate")]
    [InlineData("--engine turbo", "Unknown engine 'turbo'")]
    [InlineData("--profile weekly", "weekly")]
    [InlineData("--duration soon", "--duration: 'soon' is not a duration")]
    [InlineData("--window 100ms", "watermark's tick")]
    public async Task Invalid_configuration_ends_with_one_clear_message_and_a_nonzero_exit(string arguments, string expected)
    {
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        try
        {
            var exit = await BenchCli.Root().Parse(["run", .. arguments.Split(' ')]).InvokeAsync();

            Assert.NotEqual(0, exit);
            var message = error.ToString().Trim();
            Assert.StartsWith("error: ", message);
            Assert.Contains(expected, message, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("   at ", message); // no stack trace
        }
        finally
        {
            Console.SetError(original);
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}
