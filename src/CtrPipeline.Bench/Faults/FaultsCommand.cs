using System.CommandLine;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Bench.Faults;

/// <summary>`faults`: each engine through each fault scenario, one FAULTS line per engine and scenario (docs/faults.md).</summary>
public static class FaultsCommand
{
    public const string DefaultEngines = "native-continuous,native-microbatch,sql";

    public static Command Create()
    {
        var engine = new Option<string>("--engine") { Description = RunCommand.EngineHelp, DefaultValueFactory = _ => DefaultEngines };
        var scenario = new Option<string>("--scenario") { Description = $"Scenarios, comma-separated, or 'all': {string.Join(", ", FaultScenarios.All.Select(FaultScenarios.Name))}.", DefaultValueFactory = _ => "all" };
        var rate = new Option<double>("--rate") { Description = "Mean offered rate in events/s (Poisson).", DefaultValueFactory = _ => 20_000 };
        var duration = new Option<string>("--duration") { Description = "How long the producer sends in each run, e.g. 60s.", DefaultValueFactory = _ => "60s" };
        var killAt = new Option<string>("--kill-engine-at") { Description = "kill: when the engine gets SIGKILL, from the start of the load.", DefaultValueFactory = _ => "25s" };
        var restartAfter = new Option<string>("--restart-after") { Description = "kill: how long the engine stays down.", DefaultValueFactory = _ => "5s" };
        var outageAt = new Option<string>("--outage-at") { Description = "broker-outage: when the brokers go down.", DefaultValueFactory = _ => "15s" };
        var outage = new Option<string>("--outage") { Description = "broker-outage: how long the brokers stay down.", DefaultValueFactory = _ => "30s" };
        var secondAt = new Option<string>("--second-instance-at") { Description = "second-instance: when the second instance starts.", DefaultValueFactory = _ => "20s" };
        var hostileAt = new Option<string>("--hostile-at") { Description = "hostile: when the hostile records are injected.", DefaultValueFactory = _ => "20s" };
        var backlogFor = new Option<string>("--backlog-for") { Description = "backlog: how long the load runs before the engine starts.", DefaultValueFactory = _ => "20s" };
        var guarantee = new Option<string?>("--guarantee") { Description = $"Engine:Guarantee handed to the native engines ({FaultSettings.ExactlyOnce} or {FaultSettings.AtLeastOnce}); default: the engine's own, {FaultSettings.NativeDefaultGuarantee}." };
        var output = new Option<string>("--out") { Description = "Folder under which the runs keep their process logs.", DefaultValueFactory = _ => Path.Combine("runs", "faults") };
        var common = new CommonOptions();
        // The embedded broker keeps 5 MiB per partition: 8 partitions hold the backlog of a 30 s outage at 20,000 events/s
        // (4 do not; 16 make the single-threaded mock broker the bottleneck: the producer's deliveries time out).
        common.Partitions.DefaultValueFactory = _ => 8;

        var command = new Command("faults", "Kill engines, stop the broker, start a second instance, inject hostile records, start engines on a backlog; then judge every window with the DuckDB recount and print one FAULTS line per engine and scenario.")
        {
            engine, scenario, rate, duration, killAt, restartAfter, outageAt, outage, secondAt, hostileAt, backlogFor, guarantee, output,
        };
        common.AddTo(command);
        command.SetAction(async (parse, cancel) => await ConfigurationErrors.ReportAsync(async () =>
        {
            var scenarios = FaultScenarios.Parse(parse.GetValue(scenario)!);
            var settings = new FaultSettings
            {
                Pipeline = common.Pipeline(parse, workload: null),
                Rate = parse.GetValue(rate),
                Duration = Durations.Parse(parse.GetValue(duration)!, "--duration"),
                Seed = parse.GetValue(common.Seed),
                Brokers = parse.GetValue(common.Brokers),
                KillAt = Durations.Parse(parse.GetValue(killAt)!, "--kill-engine-at"),
                RestartAfter = Durations.Parse(parse.GetValue(restartAfter)!, "--restart-after"),
                OutageAt = Durations.Parse(parse.GetValue(outageAt)!, "--outage-at"),
                OutageLength = Durations.Parse(parse.GetValue(outage)!, "--outage"),
                SecondInstanceAt = Durations.Parse(parse.GetValue(secondAt)!, "--second-instance-at"),
                HostileAt = Durations.Parse(parse.GetValue(hostileAt)!, "--hostile-at"),
                BacklogFor = Durations.Parse(parse.GetValue(backlogFor)!, "--backlog-for"),
                Guarantee = parse.GetValue(guarantee),
            };
            foreach (var s in scenarios) settings.Validate([s]); // each scenario is a run of its own
            var postgres = common.Postgres(parse);
            var targets = EngineTarget.Parse(parse.GetValue(engine)!, postgres);
            foreach (var t in targets.Where(t => t.Start is not null)) RequireBuilt(t);
            return await RunAsync(settings, targets, scenarios, postgres, parse.GetValue(output)!, cancel);
        }));
        return command;
    }

    /// <summary>A missing worker build fails before the first run, with the command that builds it.</summary>
    private static void RequireBuilt(EngineTarget target)
    {
        ChildProcess.Executable("EmbeddedKafka");
        ChildProcess.Executable(target.Name.StartsWith("native", StringComparison.Ordinal) ? "NativeEngine.Worker" : "SqlEngine.Worker");
    }

    private static async Task<int> RunAsync(FaultSettings settings, IReadOnlyList<EngineTarget> targets, IReadOnlyList<FaultScenario> scenarios, string? postgres, string outputRoot, CancellationToken cancel)
    {
        var catalogPath = Path.GetFullPath(string.IsNullOrWhiteSpace(settings.Pipeline.CatalogPath) ? CampaignCatalog.DefaultPath : settings.Pipeline.CatalogPath);
        var catalog = CampaignCatalog.Load(catalogPath);
        var root = Path.GetFullPath(Path.Combine(outputRoot, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Error));
        var progress = new ConsoleProgress();
        var results = new List<FaultResult>();
        var skipped = new List<string>();
        foreach (var target in targets)
        {
            if (target.Start is null)
            {
                skipped.Add($"SKIPPED engine={target.Name} reason=\"{target.SkipReason}\"");
                continue;
            }
            foreach (var s in scenarios)
            {
                var run = new FaultRun(settings, target, [s], catalog, catalogPath, Path.Combine(root, $"{target.Name}-{FaultScenarios.Name(s)}"),
                    postgres, progress, logs);
                var result = await run.RunAsync(cancel);
                results.Add(result);
                progress.Phase($"{target.Name}/{result.Scenario}", result.Line);
                foreach (var line in result.Details()) progress.Phase($"{target.Name}/{result.Scenario}", "  " + line);
            }
        }
        Console.WriteLine($"runs folder: {root}");
        foreach (var r in results) Console.WriteLine(r.Line);
        foreach (var s in skipped) Console.WriteLine(s);
        return results.All(r => r.Passed) ? 0 : 1;
    }
}
