using System.CommandLine;
using Confluent.Kafka;
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

    private const int PartitionsPerConsumer = 4;

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
            var connection = new KafkaConnection(parse.GetValue(kafka)!, properties);
            var events = parse.GetValue(topic)!;
            // A consumer has one fetch in flight per broker; the embedded broker answers one batch per partition per
            // fetch, so a single consumer is bound by the round trip. Consumers side by side, each with some partitions.
            var all = Enumerable.Range(0, parse.GetValue(partitions)).Select(p => new TopicPartition(events, p)).ToList();
            var taps = all.Chunk(PartitionsPerConsumer).Select(slice => new TopicTap(connection, slice, events)).ToList();
            try
            {
                await Console.In.ReadToEndAsync(cancel); // the benchmark's signal: the run's input has ended
                var reads = await Task.WhenAll(taps.Select(t => t.CompleteAsync(TimeSpan.FromSeconds(parse.GetValue(timeout)))));
                var (records, lost) = (reads.Sum(r => r.EventRecords), reads.Sum(r => r.Lost));
                TappedEventsFile.Write(parse.GetValue(output)!, [.. reads.Select(r => r.Events!)], records, lost);
                Console.WriteLine($"tapped {records:N0} records of {events} with {taps.Count} consumers, {lost:N0} lost to retention");
                return 0;
            }
            finally
            {
                foreach (var tap in taps) tap.Dispose();
            }
        }));
        return command;
    }
}
