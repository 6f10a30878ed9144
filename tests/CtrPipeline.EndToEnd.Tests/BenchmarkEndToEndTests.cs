using System.Text.Json;
using CtrPipeline.Bench;
using CtrPipeline.Bench.Reporting;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// The benchmark command for real, small: one verified matrix run, a two-step throughput search, an engine this mode
/// cannot run, and the report folder it all ends in.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class BenchmarkEndToEndTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_small_benchmark_runs_verifies_searches_and_writes_its_report()
    {
        var root = Directory.CreateTempSubdirectory("ctr-benchmark-").FullName;
        var arguments =
            $"benchmark --engine native-continuous,flink --profile mmpp --rate 2000 --duration 8s --window 2s --watermark 1s --trigger 500ms " +
            $"--partitions 2 --search-start 2000 --search-max 4000 --search-duration 4s --search-confirm 12s --warmup 1s --out {root}";

        var exit = await BenchCli.Root().Parse(arguments.Split(' ')).InvokeAsync();

        Assert.Equal(0, exit);
        var folder = Assert.Single(Directory.GetDirectories(root));
        output.WriteLine(await File.ReadAllTextAsync(Path.Combine(folder, "report.md")));
        var results = JsonSerializer.Deserialize(await File.ReadAllTextAsync(Path.Combine(folder, "results.json")), BenchJson.Default.BenchmarkResults)!;

        var run = Assert.Single(results.Runs);
        Assert.Equal(("native-continuous", "mmpp", 2000.0), (run.Report.Engine, run.Report.Profile, run.Report.Rate));
        Assert.Equal(OracleVerdict.Match, run.Report.Oracle.Verdict);
        Assert.True(run.Report.L1.Count > 0);

        var search = Assert.Single(results.Searches);
        Assert.Equal([2000.0, 4000.0], search.Steps.Select(s => s.Rate));
        // 4,000 events/s is far below the native engine's limit: the search's maximum was sustained, and so was the 12 s
        // run that confirmed it, so the figure is a lower bound.
        var confirmation = Assert.Single(search.Confirmations);
        Assert.Equal((4000.0, true), (confirmation.Rate, confirmation.Sustained));
        Assert.Equal(4000, search.SustainableRate);
        Assert.True(search.LowerBound);
        Assert.Contains("| ≥ 4,000 (poisson) |", await File.ReadAllTextAsync(Path.Combine(folder, "report.md")));

        var skipped = Assert.Single(results.Skipped);
        Assert.Equal("flink", skipped.Engine);
        Assert.Contains("containers mode", skipped.Reason);

        Assert.True(File.Exists(Path.Combine(folder, "l1-cdf.png")));
        Assert.Single(Directory.GetFiles(Path.Combine(folder, "runs", "confirm"), "*.json"));
        Assert.Equal(4, Directory.GetFiles(Path.Combine(folder, "runs"), "*.json", SearchOption.AllDirectories).Length);
    }
}
