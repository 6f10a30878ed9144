using System.CommandLine;
using System.Globalization;
using CtrPipeline.Bench.Reporting;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;
using CtrPipeline.Producer;

namespace CtrPipeline.Bench;

/// <summary>`benchmark`: a workload's matrix and throughput searches, then the report folder.</summary>
public static class BenchmarkCommand
{
    public static Command Create()
    {
        var workloadFile = new Option<string?>("--workload") { Description = "A workload file (see workloads/); without one, the default workload (workloads/default.json)." };
        var engine = new Option<string>("--engine") { Description = RunCommand.EngineHelp, DefaultValueFactory = _ => "all" };
        var profiles = new Option<string>("--profile") { Description = "Profiles, comma-separated: poisson, mmpp.", DefaultValueFactory = _ => "poisson,mmpp" };
        var rates = new Option<string>("--rate") { Description = "Offered rates in events/s, comma-separated.", DefaultValueFactory = _ => "5000" };
        var durations = new Option<string>("--duration") { Description = "Run durations, comma-separated (30s, 2m).", DefaultValueFactory = _ => "30s" };
        var noSearch = new Option<bool>("--no-search") { Description = "Skip the sustainable-throughput search." };
        var searchStart = new Option<double?>("--search-start") { Description = "First rate the search tries (events/s)." };
        var searchMax = new Option<double?>("--search-max") { Description = "Highest rate the search tries (events/s)." };
        var searchDuration = new Option<string?>("--search-duration") { Description = "Duration of each search step." };
        var searchConfirm = new Option<string?>("--search-confirm") { Description = "Duration of the run that confirms the rate found (at least three steps; default 60s)." };
        var noVerify = new Option<bool>("--no-verify") { Description = "Do not check the matrix runs against the DuckDB oracle." };
        var output = new Option<string>("--out") { Description = "Folder under which the benchmark gets its report folder.", DefaultValueFactory = _ => "benchmarks" };
        var common = new CommonOptions();

        var command = new Command("benchmark", "Run a workload (engines x profiles x rates x durations, each verified), search each engine's sustainable throughput, and write report.md, CSV/JSON and plots.")
        {
            workloadFile, engine, profiles, rates, durations, noSearch, searchStart, searchMax, searchDuration, searchConfirm, noVerify, output,
        };
        common.AddTo(command);
        command.Options.Add(common.OracleRead);
        command.SetAction(async (parse, cancel) => await ConfigurationErrors.ReportAsync(async () =>
        {
            var file = parse.GetValue(workloadFile) is { } path ? Workload.Load(path) : Workload.Default;
            var search = parse.GetValue(noSearch) ? null : file.Search;
            if (search is not null)
                search = search with
                {
                    StartRate = parse.GetValue(searchStart) ?? search.StartRate,
                    MaxRate = parse.GetValue(searchMax) ?? search.MaxRate,
                    Duration = parse.GetValue(searchDuration) ?? search.Duration,
                    ConfirmDuration = parse.GetValue(searchConfirm) ?? search.ConfirmDuration,
                };
            var workload = (file with
            {
                Engines = CommonOptions.Pick(parse, engine, file, w => w.Engines),
                Profiles = CommonOptions.Pick(parse, profiles, file, w => string.Join(',', w.Profiles)).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                Rates = ParseRates(CommonOptions.Pick(parse, rates, file, w => string.Join(',', w.Rates.Select(r => r.ToString(CultureInfo.InvariantCulture))))),
                Durations = CommonOptions.Pick(parse, durations, file, w => string.Join(',', w.Durations)).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                Seed = CommonOptions.Pick(parse, common.Seed, file, w => w.Seed),
                Verify = file.Verify && !parse.GetValue(noVerify),
                Search = search,
            }).Validate();

            var pipeline = common.Pipeline(parse, workload);
            var producer = new ProducerOptions { Seed = workload.Seed, Profile = workload.Profiles[0], Rate = workload.Rates[0], Duration = Durations.Parse(workload.Durations[0], "duration") };
            var settings = new ExperimentSettings(producer, pipeline, workload.Verify, parse.GetValue(common.Brokers))
            {
                Warmup = common.WarmupOf(parse, workload),
                Producers = parse.GetValue(common.Producers),
            }.Validate();
            settings = await common.PlaceAsync(parse, settings);
            var targets = EngineTarget.Parse(workload.Engines, common.Postgres(parse));
            return await RunAsync(workload, targets, settings, parse.GetValue(output)!, cancel);
        }));
        return command;
    }

    private static double[] ParseRates(string text) =>
        text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(r =>
            double.TryParse(r, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate > 0
                ? rate
                : throw new ConfigurationException($"--rate: '{r}' is not a positive number of events/s.")).ToArray();

    private static async Task<int> RunAsync(Workload workload, IReadOnlyList<EngineTarget> targets, ExperimentSettings settings, string outputRoot, CancellationToken cancel)
    {
        var folder = Path.GetFullPath(Path.Combine(outputRoot, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{workload.Name}"));
        Directory.CreateDirectory(folder);
        var catalog = CampaignCatalog.Load(settings.Pipeline.CatalogPath);
        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Error));

        BenchmarkResults results;
        if (LiveBenchmarkProgress.Supported)
        {
            var live = new LiveBenchmarkProgress(workload.Name);
            results = await live.ShowAsync(() => new Benchmark(workload, targets, settings, folder, catalog, logs, live).RunAsync(cancel));
        }
        else results = await new Benchmark(workload, targets, settings, folder, catalog, logs, new PlainBenchmarkProgress()).RunAsync(cancel);

        var written = ReportWriter.Write(results, folder);
        Console.WriteLine($"report: {Path.Combine(folder, "report.md")} ({written.Count} files)");
        foreach (var run in results.Runs) Console.WriteLine(run.Report.ResultLine());
        foreach (var s in results.Searches)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"SUSTAINABLE engine={s.Engine} profile={s.Profile} rate={s.SustainableRate:0} lower_bound={(s.LowerBound ? "true" : "false")} steps={s.Steps.Count} search_rate={s.SearchRate:0} confirmations={s.Confirmations.Count}"));
        foreach (var s in results.Skipped) Console.WriteLine($"SKIPPED engine={s.Engine} reason=\"{s.Reason}\"");
        return results.Runs.Any(r => r.Report.Oracle.Verdict == OracleVerdict.Mismatch) ? 1 : 0;
    }
}
