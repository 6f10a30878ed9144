namespace CtrPipeline.EndToEnd.Tests;

/// <summary>The faults command's bad options: one "error:" line naming the option, exit code 2, before anything starts.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class FaultsCommandLineTests
{
    [Theory]
    [InlineData("faults --scenario meltdown", "unknown scenario 'meltdown'")]
    [InlineData("faults --scenario kill --kill-engine-at 90s --duration 60s", "--kill-engine-at (90s) must fall inside the run")]
    [InlineData("faults --scenario broker-outage --outage 0s", "--outage must be positive")]
    [InlineData("faults --restart-after soon", "--restart-after: 'soon' is not a duration")]
    [InlineData("faults --guarantee twice", "--guarantee must be exactly-once or at-least-once")]
    [InlineData("faults --engine turbo", "Unknown engine 'turbo'")]
    [InlineData("faults --rate 0", "--rate must be positive")]
    [InlineData("faults --scenario backlog --backlog-for 60s --duration 60s", "--backlog-for (60s) must fall inside the run")]
    public Task Invalid_faults_options_end_with_one_error_line_and_exit_code_2(string arguments, string expected) =>
        BenchCommandLine.FailsWithOneErrorLine(arguments, expected);
}
