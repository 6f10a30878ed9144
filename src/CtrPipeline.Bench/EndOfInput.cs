using System.Diagnostics;
using Confluent.Kafka;
using CtrPipeline.Contracts;

namespace CtrPipeline.Bench;

/// <summary>
/// End of input for an engine the benchmark cannot drain (a worker process, a service of the AppHost): a trailer of
/// valid events, a few per partition for a window and the watermark delay, moves every partition's watermark past the
/// window the load ended in, so every window the load touched becomes final; then the engine's output settles.
/// Trailer events are ordinary valid events: the engine counts them and so does the oracle's recount.
/// </summary>
public static class EndOfInput
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    /// <summary>How long the trailer lasts: a window, the watermark delay and three seconds of slack.</summary>
    public static TimeSpan TrailerLength(PipelineSettings pipeline) => pipeline.WindowSize + pipeline.WatermarkDelay + TimeSpan.FromSeconds(3);

    /// <summary>Sends the trailer (event ids from <paramref name="nextEventId"/> on); returns the next free id.</summary>
    public static async Task<long> SendTrailerAsync(IProducer<byte[], byte[]> producer, PipelineSettings pipeline, CampaignCatalog catalog,
        long nextEventId, Action? onTick, CancellationToken cancel)
    {
        var until = Stopwatch.StartNew();
        var length = TrailerLength(pipeline);
        var ad = 0;
        while (until.Elapsed < length)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            for (var p = 0; p < pipeline.Partitions; p++)
            {
                var e = new AdEvent(nextEventId++, EventType.View, catalog.Ads[ad++ % catalog.Ads.Count].AdId, 1, now);
                producer.Produce(new TopicPartition(pipeline.Topics.Events, p), new Message<byte[], byte[]> { Value = WireFormat.Serialize(e) });
            }
            onTick?.Invoke();
            await Task.Delay(Tick, cancel);
        }
        await Task.Run(() => producer.Flush(TimeSpan.FromSeconds(30)), cancel);
        return nextEventId;
    }

    /// <summary>
    /// Settled (true): a final row for <paramref name="lastWindow"/> has arrived and no row for <paramref name="quietFor"/>;
    /// or, for an engine that never publishes it, no row for four times as long. False: not within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<bool> SettleAsync(EngineOutputWatch output, long lastWindow, TimeSpan quietFor, TimeSpan timeout, CancellationToken cancel)
    {
        var drain = Stopwatch.StartNew();
        var (count, quiet) = (output.Rows, Stopwatch.StartNew());
        while (drain.Elapsed < timeout)
        {
            await Task.Delay(250, cancel);
            if (output.Rows != count) (count, quiet) = (output.Rows, Stopwatch.StartNew());
            var lastFinal = output.MaxFinalWindowStart >= lastWindow;
            if (quiet.Elapsed >= quietFor && (lastFinal || quiet.Elapsed >= 4 * quietFor)) return true;
        }
        return false;
    }
}
