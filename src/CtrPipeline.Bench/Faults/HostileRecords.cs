using System.Text;
using CtrPipeline.Contracts;

namespace CtrPipeline.Bench.Faults;

/// <summary>One hostile record: its kind, its value (null: a tombstone) and whether the contract counts it.</summary>
public sealed record HostileRecord(string Kind, byte[]? Value, bool Counted);

/// <summary>
/// The records a broken or malicious producer sends (issue 15): every one of them but the last must go to the
/// dead-letter topic with a reason; the last, a valid event with an extra unknown field, must be counted.
/// </summary>
public static class HostileRecords
{
    /// <summary>2200-01-01T00:00:00Z: a producer with a broken clock.</summary>
    public const long Year2200 = 7_258_118_400_000;

    public static IReadOnlyList<HostileRecord> For(CampaignCatalog catalog, long nowMs, long eventId)
    {
        var ad = catalog.Ads[0].AdId;
        var unknownAd = catalog.Ads.Max(a => a.AdId) + 1_000;
        string Event(string type = "\"view\"", string adId = "", long? time = null, string extra = "") =>
            $$"""{"event_id":{{eventId++}},"event_type":{{type}},"ad_id":{{(adId.Length == 0 ? ad.ToString(System.Globalization.CultureInfo.InvariantCulture) : adId)}},"user_id":7,"event_time":{{time ?? nowMs}}{{extra}}}""";
        HostileRecord Bad(string kind, string json) => new(kind, Encoding.UTF8.GetBytes(json), false);

        return
        [
            Bad("non-json", "this is not json at all"),
            new("invalid-utf8", [.. "{\"event_id\":1,\"event_type\":\""u8, 0xC3, 0x28, 0xFF, 0xFE, .. "\"}"u8], false),
            Bad("wrong-types", $$"""{"event_id":"one","event_type":"view","ad_id":"{{ad}}","user_id":true,"event_time":"{{nowMs}}"}"""),
            Bad("missing-fields", """{"event_id":12,"event_type":"view"}"""),
            Bad("json-array", Event().Insert(0, "[") + "]"),
            Bad("json-null", "null"),
            new("empty-value", [], false),
            new("null-value", null, false),
            Bad("unknown-ad", Event(adId: unknownAd.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            Bad("negative-ad", Event(adId: "-5")),
            Bad("700kb", Event(type: "\"" + new string('v', 700 * 1024) + "\"")),
            Bad("upper-case-type", Event(type: "\"VIEW\"")),
            Bad("year-2200", Event(time: Year2200)),
            Bad("negative-time", Event(time: -1_000)),
            new("extra-field", Encoding.UTF8.GetBytes(Event(extra: ",\"campaign_hint\":\"spring-sale\"")), true),
        ];
    }
}
