using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;

namespace CtrPipeline.Kafka.Tests;

/// <summary>W3C trace context in Kafka headers: what the producer writes is what the engine and analyzer read.</summary>
public sealed class KafkaTracingTests : IDisposable
{
    private readonly ActivityListener _listener = new()
    {
        ShouldListenTo = source => source.Name == PipelineTelemetry.ActivitySource,
        Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
    };

    public KafkaTracingTests() => ActivitySource.AddActivityListener(_listener);

    public void Dispose() => _listener.Dispose();

    [Fact]
    public void A_span_injected_into_headers_is_extracted_as_a_remote_sampled_parent()
    {
        using var span = KafkaTracing.StartMessaging("send", "events", ActivityKind.Producer, parent: default);
        Assert.NotNull(span);
        var headers = new Headers();

        KafkaTracing.Inject(span, headers);

        Assert.True(headers.TryGetLastBytes("traceparent", out var traceparent));
        Assert.Equal(span.Id, Encoding.ASCII.GetString(traceparent));
        var context = Assert.NotNull(KafkaTracing.Extract(headers));
        Assert.Equal(span.TraceId, context.TraceId);
        Assert.Equal(span.SpanId, context.SpanId);
        Assert.True(context.IsRemote);
        Assert.True(context.TraceFlags.HasFlag(ActivityTraceFlags.Recorded));
        Assert.Equal("send events", span.DisplayName);
        Assert.Equal("kafka", span.GetTagItem("messaging.system"));
    }

    [Fact]
    public void Records_without_a_usable_traceparent_have_no_trace_context()
    {
        Assert.Null(KafkaTracing.Extract(null));
        Assert.Null(KafkaTracing.Extract([]));
        Assert.Null(KafkaTracing.Extract([new Header("engine", "x"u8.ToArray())]));
        Assert.Null(KafkaTracing.Extract([new Header("traceparent", "not-a-trace-context"u8.ToArray())]));
    }

    [Fact]
    public void A_started_span_does_not_become_the_current_activity()
    {
        using var outer = new Activity("outer").Start();

        using var span = KafkaTracing.StartMessaging("process", "events", ActivityKind.Consumer, outer.Context);

        Assert.Same(outer, Activity.Current);
        Assert.Equal(outer.SpanId, span!.ParentSpanId);
    }

    [Fact]
    public void Without_a_listener_no_span_is_started()
    {
        _listener.Dispose();

        Assert.Null(KafkaTracing.StartMessaging("send", "events", ActivityKind.Producer, parent: default));
    }
}
