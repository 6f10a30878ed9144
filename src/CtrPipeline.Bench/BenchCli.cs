using System.CommandLine;

namespace CtrPipeline.Bench;

public static class BenchCli
{
    public static RootCommand Root() => new("CtrPipeline headless runner: experiments and benchmarks end to end without the AppHost.")
    {
        RunCommand.Create(),
        BenchmarkCommand.Create(),
        Faults.FaultsCommand.Create(),
        Catchup.CatchupCommand.Create(),
        Verification.TapCommand.Create(),
    };
}
