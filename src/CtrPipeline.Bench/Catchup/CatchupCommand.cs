using System.CommandLine;
using System.Globalization;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Bench.Catchup;

/// <summary>`catchup`: each engine against a pre-loaded topic, next to a bare consumer and a bare parse; one CATCHUP line per engine.</summary>
public static class CatchupCommand
{
    public const string DefaultEngines = "native-continuous,native-microbatch,sql";

    /// <summary>Enough events for several seconds of work at the engines' rates, within the embedded broker's retention at 16 partitions.</summary>
    public const long DefaultEvents = 1_000_000;

    public static Command Create()
    {
        var engine = new Option<string>("--engine") { Description = RunCommand.EngineHelp, DefaultValueFactory = _ => DefaultEngines };
        var events = new Option<long>("--events")
        {
            Description = "Events loaded into the topic before the engines start. On the embedded broker they must fit its retention (5 MiB per partition; about 1 M events at 16 partitions); with --kafka, any number the cluster keeps.",
            DefaultValueFactory = _ => DefaultEvents,
        };
        var common = new CommonOptions();
        common.Partitions.DefaultValueFactory = _ => 16;
        var command = new Command("catchup",
            "Load N events first, then time a bare consumer, a bare parse and each engine over them (until every window is final); one CATCHUP line per engine.")
        {
            engine, events,
        };
        foreach (var option in new Option[] { common.Seed, common.Window, common.Watermark, common.Trigger, common.Partitions, common.PostgresOption, common.Kafka, common.KafkaConfig, common.KeepTopics })
            command.Options.Add(option);
        command.SetAction(async (parse, cancel) => await ConfigurationErrors.ReportAsync(async () =>
        {
            var settings = new CatchupSettings(common.Pipeline(parse, workload: null), parse.GetValue(events), parse.GetValue(common.Seed)).Validate();
            settings = settings with { Kafka = await common.KafkaOf(parse, settings.Pipeline.Partitions) };
            var targets = EngineTarget.Parse(parse.GetValue(engine)!, common.Postgres(parse));
            return await RunAsync(settings, targets, cancel);
        }));
        return command;
    }

    private static async Task<int> RunAsync(CatchupSettings settings, IReadOnlyList<EngineTarget> targets, CancellationToken cancel)
    {
        var catalog = CampaignCatalog.Load(settings.Pipeline.CatalogPath);
        var folder = Path.Combine("runs", "catchup", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        var progress = new ConsoleProgress();
        var results = new List<CatchupResult>();
        foreach (var target in targets)
        {
            if (target.Start is null)
            {
                Console.WriteLine($"[{target.Name}] skipped: {target.SkipReason}");
                continue;
            }
            var result = await new CatchupRun(settings, target, catalog, logs, progress, folder).RunAsync(cancel);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{target.Name}] {result.Events:N0} events in {result.EngineSeconds:0.00} s from holding its partitions to the last final row; {result.ExpectedRows} (window, campaign) rows, {result.WrongRows} differ from the loader's counts"));
            Console.WriteLine(result.Line);
            results.Add(result);
        }
        return results.Any(r => r.WrongRows > 0) ? 1 : 0;
    }
}
