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
public sealed record AdEvent(long EventId, EventType EventType, int AdId, int UserId, long EventTime);

/// <summary>"view" / "click" on the wire; numbers and other names are malformed events.</summary>
public sealed class EventTypeJsonConverter() : JsonStringEnumConverter<EventType>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false);
