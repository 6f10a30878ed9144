using BenchmarkDotNet.Attributes;
using CtrPipeline.Contracts;
using CtrPipeline.Producer;

namespace CtrPipeline.Microbench;

/// <summary>
/// The load producer's own per-event work without Kafka: drawing an event (ad, type, lateness) and encoding its key and
/// JSON value. This is CPU the producer takes from the system under test on the same machine.
/// </summary>
[MemoryDiagnoser]
public class GeneratorBenchmarks
{
    private const int Events = 100_000;
    private EventGenerator _generator = null!;
    private long _start;

    [GlobalSetup]
    public void Setup()
    {
        _generator = new EventGenerator(new ProducerOptions(), CampaignCatalog.Load(CampaignCatalog.DefaultPath), new Random(42));
        _start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public long Next()
    {
        long bytes = 0;
        for (var i = 0; i < Events; i++) bytes += _generator.Next(_start + i / 300).Value.Length;
        return bytes;
    }
}
