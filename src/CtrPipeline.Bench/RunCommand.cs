using System.CommandLine;
using System.Globalization;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging;
using Producer.Worker;

namespace CtrPipeline.Bench;

/// <summary>`run`: one experiment per engine, one after another, each on a fresh embedded broker.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var engine = new Option<string>("--engine") { Description = $"Engine id(s), comma-separated, or 'all' ({string.Join(", ", Engines.Native)}).", DefaultValueFactory = _ => Engines.NativeContinuous };
        var profile = new Option<string>("--profile") { Description = "Arrival process: poisson (steady) or mmpp (bursty).", DefaultValueFactory = _ => TrafficProfiles.Poisson };
        var rate = new Option<double>("--rate") { Description = "Mean offered rate in events/s.", DefaultValueFactory = _ => 20_000 };
        var duration = new Option<string>("--duration") { Description = "How long the producer sends, e.g. 30s or 2m.", DefaultValueFactory = _ => "30s" };
        var seed = new Option<int>("--seed") { Description = "Seed of the generator (same seed, same events).", DefaultValueFactory = _ => 42 };
        var window = new Option<string>("--window") { Description = "Tumbling window size.", DefaultValueFactory = _ => "10s" };
        var watermark = new Option<string>("--watermark") { Description = "Watermark delay (bounded out-of-orderness).", DefaultValueFactory = _ => "2s" };
        var trigger = new Option<string>("--trigger") { Description = "Processing-time trigger of the micro-batch engine.", DefaultValueFactory = _ => "1s" };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of every topic.", DefaultValueFactory = _ => 4 };
        var brokers = new Option<int>("--brokers") { Description = "Brokers of the embedded cluster.", DefaultValueFactory = _ => 1 };
        var outOfOrder = new Option<double?>("--out-of-order") { Description = "Fraction of events whose event time lags their send time." };
        var malformed = new Option<double?>("--malformed") { Description = "Fraction of malformed records." };
        var verify = new Option<bool>("--verify") { Description = "Check every engine's final rows against the DuckDB oracle." };
        var output = new Option<string>("--out") { Description = "Folder under which each run gets its own folder.", DefaultValueFactory = _ => "runs" };

        var command = new Command("run", "Run one experiment end to end and print one RESULT line per engine.")
        {
            engine, profile, rate, duration, seed, window, watermark, trigger, partitions, brokers, outOfOrder, malformed, verify, output,
        };
        command.SetAction(async (parse, cancel) =>
        {
            try
            {
                var producer = new ProducerOptions
                {
                    Profile = parse.GetValue(profile)!,
                    Rate = parse.GetValue(rate),
                    Duration = Durations.Parse(parse.GetValue(duration)!, "--duration"),
                    Seed = parse.GetValue(seed),
                };
                if (parse.GetValue(outOfOrder) is { } ooo) producer.OutOfOrderFraction = ooo;
                if (parse.GetValue(malformed) is { } bad) producer.MalformedFraction = bad;
                var pipeline = new PipelineSettings
                {
                    WindowSize = Durations.Parse(parse.GetValue(window)!, "--window"),
                    WatermarkDelay = Durations.Parse(parse.GetValue(watermark)!, "--watermark"),
                    TriggerInterval = Durations.Parse(parse.GetValue(trigger)!, "--trigger"),
                    Partitions = parse.GetValue(partitions),
                };
                var engines = Engines.ParseList(parse.GetValue(engine)!);
                var settings = new ExperimentSettings(engines, producer, pipeline, parse.GetValue(verify), parse.GetValue(output)!, parse.GetValue(brokers)).Validate();
                return await RunAsync(settings, cancel);
            }
            catch (ConfigurationException e)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(ExperimentSettings settings, CancellationToken cancel)
    {
        var catalog = CampaignCatalog.Load(settings.Pipeline.CatalogPath);
        var runFolder = Path.Combine(settings.OutputRoot,
            string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{settings.Producer.Profile}-{settings.Producer.Rate:0}"));
        Directory.CreateDirectory(runFolder);

        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        var progress = new ConsoleProgress();
        var reports = new List<EngineRunReport>();
        foreach (var engine in settings.Engines)
        {
            progress.Phase(engine, $"starting: {settings.Producer.Profile} at {settings.Producer.Rate:N0} events/s for {Durations.Format(settings.Duration)} on an embedded in-memory broker");
            var report = await new Experiment(settings, engine, catalog, logs, progress).RunAsync(cancel);
            reports.Add(report);
            await File.WriteAllTextAsync(Path.Combine(runFolder, $"{engine}.json"), report.ToJson(), cancel);
            Summarize(report);
        }

        await File.WriteAllTextAsync(Path.Combine(runFolder, "summary.json"),
            System.Text.Json.JsonSerializer.Serialize(reports, BenchJson.Default.ListEngineRunReport), cancel);
        Console.WriteLine($"run folder: {Path.GetFullPath(runFolder)}");
        foreach (var report in reports) Console.WriteLine(report.ResultLine());
        return reports.Any(r => r.Oracle.Verdict == OracleVerdict.Mismatch) ? 1 : 0;
    }

    private static void Summarize(EngineRunReport r)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{r.Engine}] produced {r.Events:N0} events ({r.AchievedRate:N0}/s, max schedule lag {r.MaxScheduleLagMs:0.#} ms); " +
            $"consumer lag max {r.MaxConsumerLag:N0}, at end {r.EndConsumerLag:N0}, trend {r.LagTrendPerSecond:0.#}/s: {(r.Sustained ? "sustained" : "NOT sustained")}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{r.Engine}] L1 p50 {r.L1.P50:0.#} p99 {r.L1.P99:0.#} p99.9 {r.L1.P999:0.#} max {r.L1.Max:0.#} ms; " +
            $"L2 ({r.KafkaTimestampType}) p99 {r.L2.P99:0.###} ms; L2 by analyzer receipt p99 {r.L2Received.P99:0.#} ms"));
        if (r.KafkaTimestampType == "CreateTime")
            Console.WriteLine($"[{r.Engine}] note: the broker keeps the producer's CreateTime, so L2 ends at the engine's produce call; the received-at figure includes the broker and the analyzer's fetch.");
        Console.WriteLine($"[{r.Engine}] oracle: {r.Oracle.VerdictText} ({r.Oracle.EventsRead:N0} events read, {r.Oracle.ExpectedRows} expected rows, {r.Oracle.EngineRows} final engine rows, {r.Oracle.Differences} differences)");
        foreach (var example in r.Oracle.Examples) Console.WriteLine($"[{r.Engine}]   {example}");
    }
}
