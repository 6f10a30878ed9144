using System.Text.Json;
using CtrPipeline.Contracts;

namespace CtrPipeline.Bench.Faults;

/// <summary>A valid event as the contract defines it, independently of the engines' parser.</summary>
public readonly record struct ContractEvent(long EventTime, int CampaignId, bool Click);

/// <summary>
/// The event contract every engine must apply (issue 15), checked here without the engines' code: a JSON object
/// with integer event_id, ad_id, user_id and event_time, event_type exactly "view" or "click" (case-sensitive), an
/// ad of the catalog, an event time above zero and at most Pipeline:MaxEventTimeSkew (<paramref name="maxSkewMs"/>) ahead
/// of the record's Kafka timestamp. Unknown extra fields are tolerated. Anything else belongs in the dead-letter topic.
/// </summary>
public static class EventContract
{
    public static bool TryRead(byte[]? value, long kafkaTimestampMs, long maxSkewMs, CampaignCatalog catalog, out ContractEvent e)
    {
        e = default;
        if (value is null || value.Length == 0) return false;
        try
        {
            using var doc = JsonDocument.Parse(value);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return false;
            if (!Integer(root, "event_id", out _) || !Integer(root, "ad_id", out var adId) || !Integer(root, "user_id", out _)
                || !Integer(root, "event_time", out var time))
                return false;
            if (!root.TryGetProperty("event_type", out var type) || type.ValueKind != JsonValueKind.String) return false;
            var click = type.ValueEquals("click"u8);
            if (!click && !type.ValueEquals("view"u8)) return false;
            if (adId is < int.MinValue or > int.MaxValue || !catalog.TryGetCampaign((int)adId, out var campaign)) return false;
            if (time <= 0 || time > kafkaTimestampMs + maxSkewMs) return false;
            e = new ContractEvent(time, campaign, click);
            return true;
        }
        catch (Exception x) when (x is JsonException or ArgumentException or InvalidOperationException)
        {
            return false; // not JSON, or not UTF-8
        }
    }

    private static bool Integer(JsonElement root, string name, out long value)
    {
        value = 0;
        return root.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt64(out value);
    }
}
