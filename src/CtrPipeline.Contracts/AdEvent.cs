using System.Text.Json;
using System.Text.Json.Serialization;

namespace CtrPipeline.Contracts;

[JsonConverter(typeof(EventTypeJsonConverter))]
public enum EventType
{
    View,
    Click,
}

/// <summary>One ad impression or click, as published to the events topic (JSON, key = ad_id).</summary>
/// <param name="EventTime">Event time in epoch milliseconds: when the user saw or clicked the ad.</param>
public readonly record struct AdEvent(long EventId, EventType EventType, int AdId, int UserId, long EventTime)
{
    /// <summary>The dead-letter reason of an event that fails the event-time guard (<see cref="IsEventTimeInRange"/>).</summary>
    public const string EventTimeOutOfRange = "event time out of range";

    /// <summary>
    /// The event-time guard every engine applies before the watermark sees an event: its time is after the epoch and
    /// at most <paramref name="maxSkewMs"/> ahead of <paramref name="clockMs"/> (the engine's clock, epoch ms).
    /// </summary>
    public static bool IsEventTimeInRange(long eventTime, long clockMs, long maxSkewMs) =>
        eventTime > 0 && eventTime - clockMs <= maxSkewMs;
}

/// <summary>
/// Exactly "view" or "click" on the wire, case-sensitive as in Flink's and Spark's filters
/// (<c>event_type IN ('view', 'click')</c>); "VIEW", numbers and other names are malformed events.
/// </summary>
public sealed class EventTypeJsonConverter : JsonConverter<EventType>
{
    public override EventType Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => Parse(ref reader);

    /// <summary>The event type at the reader's current token; a <see cref="JsonException"/> that says what is allowed otherwise.</summary>
    public static EventType Parse(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            if (reader.ValueTextEquals("view"u8)) return EventType.View;
            if (reader.ValueTextEquals("click"u8)) return EventType.Click;
        }
        throw new JsonException($"event_type must be \"view\" or \"click\" (case-sensitive), got {Describe(ref reader)}");
    }

    public override void Write(Utf8JsonWriter writer, EventType value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value == EventType.Click ? "click"u8 : "view"u8);

    private static string Describe(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String) return $"a {reader.TokenType.ToString().ToLowerInvariant()}";
        var text = reader.GetString() ?? "";
        return JsonSerializer.Serialize(text.Length > 40 ? text[..40] + "..." : text, PipelineJson.Default.String);
    }
}
