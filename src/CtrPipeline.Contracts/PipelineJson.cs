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

    /// <summary>Parses an event; returns false with a reason for anything that is not a well-formed event.</summary>
    public static bool TryParseEvent(ReadOnlySpan<byte> utf8, out AdEvent? e, out string? reason)
    {
        try
        {
            e = JsonSerializer.Deserialize(utf8, PipelineJson.Default.AdEvent);
            reason = e is null ? "null event" : null;
            return e is not null;
        }
        catch (JsonException ex)
        {
            e = null;
            reason = ex.Message;
            return false;
        }
    }

    public static CtrResult ParseResult(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, PipelineJson.Default.CtrResult)
        ?? throw new JsonException("null result");
}
