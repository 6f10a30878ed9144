using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;

namespace CtrPipeline.Kafka;

/// <summary>
/// Traces across Kafka: the pipeline's activity source, and W3C trace context (traceparent, tracestate) in record
/// headers. The producer decides which events are traced (head sampling); every later stage traces a record only
/// when it carries a traceparent, so an untraced record costs a reader one look at its (empty) headers and no bytes
/// on the wire.
/// </summary>
public static class KafkaTracing
{
    public static readonly ActivitySource Source = new(PipelineTelemetry.ActivitySource);

    private static readonly DistributedContextPropagator Propagator = DistributedContextPropagator.CreateW3CPropagator();

    /// <summary>
    /// Starts a messaging span for <paramref name="topic"/> ("send events", "process ctr_results"), or returns null when
    /// nobody listens. It does not stay <see cref="Activity.Current"/>: these spans end on another thread (a delivery
    /// report) or at once, and must not become the parent of whatever the calling loop does next.
    /// </summary>
    public static Activity? StartMessaging(string operation, string topic, ActivityKind kind, ActivityContext parent, IEnumerable<ActivityLink>? links = null)
    {
        var activity = StartDetached($"{operation} {topic}", kind, parent, links);
        activity?.SetTag("messaging.system", "kafka")
            .SetTag("messaging.operation.name", operation)
            .SetTag("messaging.destination.name", topic);
        return activity;
    }

    /// <summary>Starts a span that is not left as <see cref="Activity.Current"/>; null when nobody listens.</summary>
    public static Activity? StartDetached(string name, ActivityKind kind, ActivityContext parent, IEnumerable<ActivityLink>? links = null)
    {
        var previous = Activity.Current;
        var activity = Source.StartActivity(name, kind, parent, links: links);
        Activity.Current = previous;
        return activity;
    }

    /// <summary>Adds the span's trace context to the record's headers.</summary>
    public static void Inject(Activity activity, Headers headers) =>
        Propagator.Inject(activity, headers, static (carrier, name, value) =>
        {
            if (carrier is Headers h && value is not null) h.Add(name, Encoding.ASCII.GetBytes(value));
        });

    /// <summary>The trace context a record carries, or null (no headers, no traceparent, or one that does not parse).</summary>
    public static ActivityContext? Extract(Headers? headers)
    {
        if (headers is null || headers.Count == 0) return null;
        Propagator.ExtractTraceIdAndState(headers, static (object? carrier, string name, out string? value, out IEnumerable<string>? values) =>
        {
            values = null;
            value = carrier is Headers h && h.TryGetLastBytes(name, out var bytes) ? Encoding.ASCII.GetString(bytes) : null;
        }, out var traceParent, out var traceState);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : null;
    }

    /// <summary>Where the record landed, on its send or process span.</summary>
    public static Activity SetRecordPosition(this Activity activity, int partition, long offset) => activity
        .SetTag("messaging.destination.partition.id", partition.ToString(System.Globalization.CultureInfo.InvariantCulture))
        .SetTag("messaging.kafka.offset", offset);

    /// <summary>Which result row a span is about: engine, window, campaign, and whether the row is final.</summary>
    public static Activity SetRowTags(this Activity activity, CtrResult row) => activity
        .SetTag("ctr.engine", row.Engine)
        .SetTag("ctr.window.start", row.WindowStart)
        .SetTag("ctr.window.end", row.WindowEnd)
        .SetTag("ctr.campaign_id", row.CampaignId)
        .SetTag("ctr.final", row.Final);
}
