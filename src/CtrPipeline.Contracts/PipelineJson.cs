using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CtrPipeline.Contracts;

/// <summary>Source-generated JSON for the wire contracts: snake_case names, enums as lower-case strings.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(AdEvent))]
[JsonSerializable(typeof(CtrResult))]
[JsonSerializable(typeof(string))]
public sealed partial class PipelineJson : JsonSerializerContext;

public static class WireFormat
{
    public static byte[] Serialize(AdEvent e) => JsonSerializer.SerializeToUtf8Bytes(e, PipelineJson.Default.AdEvent);

    public static byte[] Serialize(CtrResult r) => JsonSerializer.SerializeToUtf8Bytes(r, PipelineJson.Default.CtrResult);

    /// <summary>
    /// Parses an event under the contract (docs/contract.md); returns false with a reason for anything that is not a
    /// well-formed event. The engines' hot path: one pass of a <see cref="Utf8JsonReader"/> over the record's bytes,
    /// no string and no allocation for a valid event. It accepts exactly what System.Text.Json accepts for
    /// <see cref="AdEvent"/> with <see cref="PipelineJson"/>'s options (tests compare the two record by record).
    /// </summary>
    public static bool TryParseEvent(ReadOnlySpan<byte> utf8, out AdEvent e, [NotNullWhen(false)] out string? reason)
    {
        e = default;
        if (utf8.IsEmpty)
        {
            reason = "empty record";
            return false;
        }
        long eventId = 0, eventTime = 0;
        int adId = 0, userId = 0;
        var type = EventType.View;
        var seen = Field.None;
        try
        {
            var reader = new Utf8JsonReader(utf8);
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reason = $"an event is a JSON object, got {Describe(reader.TokenType)}";
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("event_id"u8)) seen |= Read(ref reader, Field.EventId, ref eventId);
                else if (reader.ValueTextEquals("ad_id"u8)) seen |= Read(ref reader, Field.AdId, ref adId);
                else if (reader.ValueTextEquals("user_id"u8)) seen |= Read(ref reader, Field.UserId, ref userId);
                else if (reader.ValueTextEquals("event_time"u8)) seen |= Read(ref reader, Field.EventTime, ref eventTime);
                else if (reader.ValueTextEquals("event_type"u8))
                {
                    reader.Read();
                    type = EventTypeJsonConverter.Parse(ref reader);
                    seen |= Field.EventType;
                }
                else
                {
                    reader.Read();
                    reader.Skip(); // unknown fields are ignored, nested ones too
                }
            }
            while (reader.Read()) { } // anything after the object but whitespace throws
        }
        catch (JsonException ex)
        {
            reason = ex.Message;
            return false;
        }
        catch (InvalidOperationException ex)
        {
            reason = ex.Message; // invalid UTF-8 in the event_type the reason quotes
            return false;
        }
        if (seen != Field.All)
        {
            reason = Missing(seen);
            return false;
        }
        e = new AdEvent(eventId, type, adId, userId, eventTime);
        reason = null;
        return true;
    }

    public static CtrResult ParseResult(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, PipelineJson.Default.CtrResult)
        ?? throw new JsonException("null result");

    [Flags]
    private enum Field
    {
        None = 0,
        EventId = 1,
        EventType = 2,
        AdId = 4,
        UserId = 8,
        EventTime = 16,
        All = 31,
    }

    /// <summary>Not inline: a lambda capturing <c>seen</c> would allocate its closure on every call of the parser.</summary>
    private static string Missing(Field seen) =>
        "missing " + string.Join(", ", Enum.GetValues<Field>().Where(f => f is not (Field.None or Field.All) && !seen.HasFlag(f)).Select(FieldName));

    private static string FieldName(Field field) => field switch
    {
        Field.EventId => "event_id",
        Field.EventType => "event_type",
        Field.AdId => "ad_id",
        Field.UserId => "user_id",
        _ => "event_time",
    };

    private static Field Read(ref Utf8JsonReader reader, Field field, ref long value)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out value))
            throw new JsonException($"{FieldName(field)} must be a 64-bit integer, got {Describe(reader.TokenType)}");
        return field;
    }

    private static Field Read(ref Utf8JsonReader reader, Field field, ref int value)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out value))
            throw new JsonException($"{FieldName(field)} must be a 32-bit integer, got {Describe(reader.TokenType)}");
        return field;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.Number => "a number out of range or with a fraction",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        _ => $"a {token.ToString().ToLowerInvariant()}",
    };
}
