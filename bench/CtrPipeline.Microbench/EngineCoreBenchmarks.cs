using BenchmarkDotNet.Attributes;
using CtrPipeline.Contracts;
using CtrPipeline.Streaming;

namespace CtrPipeline.Microbench;

/// <summary>
/// The native engine's per-event work without Kafka: parsing an event's JSON, and joining it with the catalog and
/// adding it to its window (continuous mode, windows closing as the watermark passes them). One operation is one
/// event; the memory diagnoser's "Allocated" column is bytes per event.
/// </summary>
[MemoryDiagnoser]
public class EngineCoreBenchmarks
{
    /// <summary>Events per invocation: 20 s of event time at 10,000 events/s, so two 10 s windows close in each.</summary>
    private const int Events = 200_000;

    private readonly CampaignCatalog _catalog = CampaignCatalog.Load(CampaignCatalog.DefaultPath);
    private readonly PipelineSettings _pipeline = new();
    private readonly List<CtrResult> _output = [];
    private byte[][] _payloads = [];
    private StreamRecord[] _records = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
        _payloads = new byte[Events][];
        _records = new StreamRecord[Events];
        for (var i = 0; i < Events; i++)
        {
            var ad = _catalog.Ads[random.Next(_catalog.Ads.Count)].AdId;
            var e = new AdEvent(i, random.NextDouble() < 0.05 ? EventType.Click : EventType.View, ad, random.Next(1, 1_000_000), start + i / 10);
            _payloads[i] = WireFormat.Serialize(e);
            _records[i] = new StreamRecord(e, i % 8, i / 8, e.EventTime);
        }
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public int Parse()
    {
        var parsed = 0;
        foreach (var payload in _payloads)
            if (WireFormat.TryParseEvent(payload, out _, out _)) parsed++;
        return parsed;
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public long JoinAndWindow()
    {
        var engine = NewEngine();
        foreach (ref readonly var record in _records.AsSpan())
        {
            engine.Process(record, _output);
            _output.Clear();
        }
        return engine.Accepted;
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public long ParseJoinAndWindow()
    {
        var engine = NewEngine();
        for (var i = 0; i < _payloads.Length; i++)
        {
            if (!WireFormat.TryParseEvent(_payloads[i], out var e, out _)) continue;
            engine.Process(new StreamRecord(e, i % 8, i / 8, e.EventTime), _output);
            _output.Clear();
        }
        return engine.Accepted;
    }

    private CtrEngine NewEngine() =>
        new(ExecutionMode.Continuous, _pipeline, _catalog, () => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
}
