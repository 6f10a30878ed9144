using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Producer;

/// <summary>
/// Runs a producer and publishes its progress to Producer:ProgressTopic on the load's own cluster, every
/// <see cref="Interval"/> and once more, done, after the producer's flush: how a benchmark follows producers it did
/// not start in its own process, or on its own machine.
/// </summary>
public sealed class ProgressPublisher(ProducerOptions options, KafkaConnection kafka, ILogger logger)
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    public async Task RunAsync(EventProducer producer, CancellationToken stop)
    {
        var topic = options.ProgressTopic ?? throw new InvalidOperationException("Producer:ProgressTopic is not set.");
        // No linger: a progress record is one small record every half second, wanted at once.
        using var client = new ProducerBuilder<byte[], byte[]>(KafkaClients.Producer(kafka, $"producer-progress-{options.Instance}", TimeSpan.Zero))
            .SetLogHandler(KafkaClients.LogTo(logger))
            .Build();
        void Publish(bool done)
        {
            var record = LoadProgressRecord.From(options, producer.Progress, done);
            client.Produce(topic, new Message<byte[], byte[]> { Key = record.Key, Value = record.Serialize() });
        }

        var producing = producer.RunAsync(stop);
        Publish(done: false); // at once: the process is up (its load starts at Producer:StartAtUnixMs when that is set)
        while (!producing.IsCompleted)
        {
            await Task.WhenAny(producing, Task.Delay(Interval, CancellationToken.None));
            if (!producing.IsCompleted) Publish(done: false);
        }
        await producing; // a failed load reports no done record: its process ends with the error instead
        Publish(done: true);
        if (client.Flush(TimeSpan.FromSeconds(30)) > 0)
            throw new WorkerFailedException($"The final progress record did not reach {topic} on {kafka} within 30 s.");
    }
}
