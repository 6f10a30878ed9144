using System.Collections.Concurrent;
using System.Diagnostics;
using CtrPipeline.Bench;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// Traces across Kafka over the real pipeline (embedded broker, producer, native engine, analyzer in one process):
/// a sampled event can be followed from its produce span to the analyzer's read of a row computed from it.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class TraceEndToEndTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_sampled_event_is_followed_through_the_engine_window_to_the_analyzer()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == PipelineTelemetry.ActivitySource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        // The load in this process, where the listener sees its send spans (a producer process traces to its own exporter).
        var settings = OracleEndToEndTests.ShortRun("poisson") with { Producers = 0 };
        settings.Producer.TracedEventsPerSecond = 2;

        var report = (await OracleEndToEndTests.NewExperiment(settings, Engines.NativeMicroBatch, output).RunAsync(TestContext.Timeout)).Report;
        output.WriteLine(report.ResultLine());

        var byId = spans.ToDictionary(s => s.SpanId);
        var sends = spans.Where(s => s.DisplayName == "send events").ToList();
        // 2 per second of a 6 s schedule, the first at the first event.
        Assert.InRange(sends.Count, 11, 13);
        Assert.All(sends, s => Assert.Equal(default, s.ParentSpanId));

        var reads = spans.Where(s => s.DisplayName == "process ctr_results").ToList();
        Assert.NotEmpty(reads);
        output.WriteLine($"{sends.Count} traced events, {reads.Count} traced result rows; one: "
            + string.Join(" <- ", Ancestors(reads[0], byId).Select(s => $"{s.DisplayName} ({s.Duration.TotalMilliseconds:0.#} ms)")));
        foreach (var read in reads)
        {
            var chain = Ancestors(read, byId).Select(s => s.DisplayName).ToList();
            Assert.Equal(["process ctr_results", "send ctr_results", "compute ctr window", "process events", "send events"], chain);
            Assert.All(Ancestors(read, byId), s => Assert.Equal(read.TraceId, s.TraceId));
            Assert.Equal(Engines.NativeMicroBatch, read.GetTagItem("ctr.engine"));
            Assert.True(read.GetTagItem("ctr.l1_ms") is long l1 && l1 >= 0);
        }

        // Every row of a window that used a traced event was traced, down to the final one.
        var finals = spans.Where(s => s.DisplayName == "compute ctr window" && s.GetTagItem("ctr.final") is true).ToList();
        Assert.NotEmpty(finals);
        Assert.All(finals, w => Assert.True(w.GetTagItem("ctr.views") is long views && views > 0));
        // Events of the same (window, campaign) after the first are links of its window span.
        var traced = spans.Count(s => s.DisplayName == "process events" && s.GetTagItem("ctr.event.outcome") is "Accepted");
        var windowEvents = finals.Sum(w => 1 + w.Links.Count());
        Assert.Equal(traced, windowEvents);
    }

    private static IEnumerable<Activity> Ancestors(Activity span, IReadOnlyDictionary<ActivitySpanId, Activity> byId)
    {
        for (var s = span; s is not null; s = s.ParentSpanId == default ? null : byId.GetValueOrDefault(s.ParentSpanId))
            yield return s;
    }
}

/// <summary>Tests that run a whole pipeline in this process: one at a time, so their timings and listeners do not mix.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PipelineCollection
{
    public const string Name = "pipeline";
}
