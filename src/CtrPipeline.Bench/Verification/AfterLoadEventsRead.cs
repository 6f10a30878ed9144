using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

namespace CtrPipeline.Bench.Verification;

/// <summary>
/// The oracle reads the run's events once, after the load, where the cluster keeps the whole run: nothing competes
/// with the engine for the broker's fetches or the cores while it runs. First it checks that every partition still
/// starts at offset 0; a run whose events were deleted after all (the retention was changed, or a broker's default was
/// not what it said) cannot be verified, and says so in one line (exit 2) rather than compare a part.
/// </summary>
internal sealed class AfterLoadEventsRead(RunTopics kafka, string reason) : IEventsRecording
{
    public EventsRead Read => EventsRead.AfterLoad;

    public string Reason => reason;

    public IReadOnlyList<int> ProcessIds => [];

    public async Task<RecordedEvents> CompleteAsync(TimeSpan timeout, CancellationToken cancel)
    {
        var events = kafka.Pipeline.Topics.Events;
        using (var consumer = new ConsumerBuilder<Ignore, Ignore>(KafkaClients.Consumer(kafka.Kafka, $"oracle-{Guid.NewGuid():N}", "ctr-oracle-read"))
            .SetLogHandler((_, _) => { }).Build())
        {
            for (var p = 0; p < kafka.Pipeline.Partitions; p++)
            {
                var start = consumer.QueryWatermarkOffsets(new TopicPartition(events, p), timeout).Low.Value;
                if (start > 0) throw Lost($"partition {p} now starts at offset {start}");
            }
        }
        using var tap = new TopicTap(kafka.Kafka, new Dictionary<string, int> { [events] = kafka.Pipeline.Partitions }, events);
        var read = await tap.CompleteAsync(timeout).WaitAsync(cancel);
        if (read.Lost > 0) throw Lost($"{read.Lost:N0} of its records were deleted while the oracle read them");
        return new RecordedEvents(read.Events!, read.EventRecords, read.Lost);
    }

    private ConfigurationException Lost(string what) => new(
        $"--verify: the run's events were lost to retention before the oracle read them after the load ({kafka.Pipeline.Topics.Events}: {what}); " +
        "give the topic a longer retention, or --oracle-read live for a tap while the run happens.");

    public void Dispose()
    {
    }
}
