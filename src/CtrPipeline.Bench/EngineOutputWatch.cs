using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

namespace CtrPipeline.Bench;

/// <summary>
/// Follows one engine's output live through Kafka only, for engines the benchmark cannot ask (a worker process, a
/// service of the AppHost): the rows it published, its newest final window, and the records it routed to the late
/// and dead-letter topics (by their engine header).
/// </summary>
public sealed class EngineOutputWatch : IDisposable
{
    private readonly IConsumer<Ignore, byte[]> _consumer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _rows, _finals, _late, _bad, _maxFinal = long.MinValue;

    public EngineOutputWatch(KafkaConnection bootstrap, PipelineSettings pipeline, string engine)
    {
        _consumer = new ConsumerBuilder<Ignore, byte[]>(KafkaClients.Consumer(bootstrap, $"output-watch-{Guid.NewGuid():N}", "output-watch"))
            .SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        var topics = new[] { pipeline.Topics.Results, pipeline.Topics.Late, pipeline.Topics.DeadLetters };
        _consumer.Assign(topics.SelectMany(t => Enumerable.Range(0, pipeline.Partitions).Select(p => new TopicPartitionOffset(t, p, Offset.Beginning))));
        _loop = Task.Factory.StartNew(() =>
        {
            while (!_stop.IsCancellationRequested)
            {
                if (_consumer.Consume(TimeSpan.FromMilliseconds(100)) is not { IsPartitionEOF: false } r) continue;
                if (r.Topic != pipeline.Topics.Results)
                {
                    if (Oracle.HeaderText(r.Message.Headers, "engine") != engine) continue;
                    if (r.Topic == pipeline.Topics.Late) Interlocked.Increment(ref _late);
                    else Interlocked.Increment(ref _bad);
                    continue;
                }
                var row = WireFormat.ParseResult(r.Message.Value);
                if (row.Engine != engine) continue;
                Interlocked.Increment(ref _rows);
                if (!row.Final) continue;
                Interlocked.Increment(ref _finals);
                if (row.WindowStart > Interlocked.Read(ref _maxFinal)) Interlocked.Exchange(ref _maxFinal, row.WindowStart);
            }
        }, TaskCreationOptions.LongRunning);
    }

    public long Rows => Interlocked.Read(ref _rows);

    public long Finals => Interlocked.Read(ref _finals);

    public long Late => Interlocked.Read(ref _late);

    public long Bad => Interlocked.Read(ref _bad);

    public long MaxFinalWindowStart => Interlocked.Read(ref _maxFinal);

    public void Dispose()
    {
        _stop.Cancel();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); }
        catch (AggregateException) { }
        _consumer.Dispose();
        _stop.Dispose();
    }
}
