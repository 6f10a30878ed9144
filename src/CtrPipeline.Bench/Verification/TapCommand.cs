using System.CommandLine;
using CtrPipeline.Contracts;

namespace CtrPipeline.Bench.Verification;

/// <summary>
/// The live tap's own process (<see cref="LiveEventsTap"/> starts it; hidden from the help): reads the events topic
/// from its first offset while the run happens, and when its standard input ends (the benchmark closed it, or ended),
/// reads on to the topic's current end, writes the events to --out (<see cref="TappedEventsFile"/>) and exits 0.
/// </summary>
internal static class TapCommand
{
    public const string Name = "tap";

    public static Command Create()
    {
        var kafka = new Option<string>("--kafka") { Required = true };
        var kafkaConfig = new Option<string?>("--kafka-config");
        var topic = new Option<string>("--topic") { Required = true };
        var partitions = new Option<int>("--partitions") { Required = true };
        var output = new Option<string>("--out") { Required = true };
        var timeout = new Option<int>("--timeout-seconds") { DefaultValueFactory = _ => 120 };
        var command = new Command(Name, "The oracle's live tap, run by the benchmark as a process of its own.")
        {
            kafka, kafkaConfig, topic, partitions, output, timeout,
        };
        command.Hidden = true;
        command.SetAction(async (parse, cancel) => await ConfigurationErrors.ReportAsync(async () =>
        {
            var properties = parse.GetValue(kafkaConfig) is { } file ? KafkaClientProperties.Load(file) : KafkaClientProperties.None;
            var events = parse.GetValue(topic)!;
            using var tap = new TopicTap(new KafkaConnection(parse.GetValue(kafka)!, properties),
                new Dictionary<string, int> { [events] = parse.GetValue(partitions) }, events);
            await Console.In.ReadToEndAsync(cancel); // the benchmark's signal: the run's input has ended
            var read = await tap.CompleteAsync(TimeSpan.FromSeconds(parse.GetValue(timeout)));
            TappedEventsFile.Write(parse.GetValue(output)!, new RecordedEvents(read.Events!, read.EventRecords, read.Lost));
            Console.WriteLine($"tapped {read.EventRecords:N0} records of {events}, {read.Lost:N0} lost to retention");
            return 0;
        }));
        return command;
    }
}
