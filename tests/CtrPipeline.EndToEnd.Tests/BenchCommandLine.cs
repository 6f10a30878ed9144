using CtrPipeline.Bench;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>Runs the Bench's command line in this process, as a user would type it, capturing standard error.</summary>
internal static class BenchCommandLine
{
    /// <summary>Asserts that <paramref name="arguments"/> end with exit code 2 and one "error:" line containing <paramref name="expected"/>, no stack trace.</summary>
    public static async Task FailsWithOneErrorLine(string arguments, string expected)
    {
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.Equal(2, await BenchCli.Root().Parse(arguments.Split(' ')).InvokeAsync());
            var line = Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("error: ", line);
            Assert.Contains(expected, line, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", line);
        }
        finally
        {
            Console.SetError(original);
        }
    }
}
