using System.Diagnostics;
using CtrPipeline.Contracts;
using CtrPipeline.Streaming;
using Xunit.Abstractions;

namespace CtrPipeline.Streaming.Tests;

/// <summary>
/// A quick measurement of the per-record path, printed to the test output (no timed assertion: a shared CI machine's
/// speed is not the engine's correctness). The figure quoted in reports comes from a Release build.
/// </summary>
public sealed class ThroughputTests(ITestOutputHelper log)
{
    private const int Events = 1_000_000;
    private const int Partitions = 4;
    private const long Start = 1_700_000_000_000;

    [Theory]
    [InlineData(ExecutionMode.Continuous)]
    [InlineData(ExecutionMode.MicroBatch)]
    public void Per_record_path_counts_a_million_events_into_their_windows(ExecutionMode mode)
    {
        var catalog = CampaignCatalog.Generate(100, 10);
        var settings = new PipelineSettings { WindowSize = TimeSpan.FromSeconds(10), WatermarkDelay = TimeSpan.FromSeconds(2) };
        var records = new StreamRecord[Events];
        var payloads = new byte[Events][];
        var random = new Random(42);
        for (var i = 0; i < Events; i++)
        {
            // 20 000 events/s of event time, up to 1 s out of order
            var e = new AdEvent(i, random.Next(10) == 0 ? EventType.Click : EventType.View, random.Next(1, 1_001), random.Next(), Start + i / 20 - random.Next(1_000));
            records[i] = new StreamRecord(e, i % Partitions, i / Partitions, e.EventTime);
            payloads[i] = WireFormat.Serialize(e);
        }

        var (engineOnly, emitted) = Run(new CtrEngine(mode, settings, catalog, Clock), i => records[i]);
        var (withParsing, _) = Run(new CtrEngine(mode, settings, catalog, Clock), i =>
        {
            WireFormat.TryParseEvent(payloads[i], out var e, out _);
            return records[i] with { Event = e };
        });

        log.WriteLine($"{mode}: engine alone {Events / engineOnly.TotalSeconds:N0} events/s; JSON parsing + engine {Events / withParsing.TotalSeconds:N0} events/s");
        Assert.Equal(Events, emitted.Where(r => r.Final).Sum(r => r.Views + r.Clicks));
    }

    private static (TimeSpan Elapsed, List<CtrResult> Output) Run(CtrEngine engine, Func<int, StreamRecord> record)
    {
        var output = new List<CtrResult>();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Events; i++)
        {
            engine.Process(record(i), output);
            if ((i & 0xFFFF) == 0) engine.Tick(output);
        }
        var elapsed = clock.Elapsed;
        engine.Drain(output);
        return (elapsed, output);
    }

    /// <summary>Processing time that starts with the events' time, so the event-time guard accepts them.</summary>
    private static long Clock() => Start + Environment.TickCount64;
}
