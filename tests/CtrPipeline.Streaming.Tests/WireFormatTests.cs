using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CtrPipeline.Contracts;

namespace CtrPipeline.Streaming.Tests;

/// <summary>The event contract every engine shares (docs/contract.md), as <see cref="WireFormat.TryParseEvent"/> applies it.</summary>
public sealed class WireFormatTests
{
    [Theory]
    [InlineData("view", EventType.View)]
    [InlineData("click", EventType.Click)]
    public void Event_type_view_and_click_are_accepted(string type, EventType expected)
    {
        Assert.True(WireFormat.TryParseEvent(Event($"\"{type}\""), out var e, out var reason), reason);
        Assert.Equal(expected, e.EventType);
    }

    [Theory]
    [InlineData("\"VIEW\"", "got \"VIEW\"")]
    [InlineData("\"Click\"", "got \"Click\"")]
    [InlineData("\" view\"", "got \" view\"")]
    [InlineData("\"scroll\"", "got \"scroll\"")]
    [InlineData("\"\"", "got \"\"")]
    [InlineData("0", "got a number")]
    [InlineData("null", "got a null")]
    public void Any_other_event_type_is_malformed_with_a_reason_that_says_what_is_allowed(string type, string got)
    {
        Assert.False(WireFormat.TryParseEvent(Event(type), out var e, out var reason));
        Assert.Equal(default, e);
        Assert.StartsWith("event_type must be \"view\" or \"click\" (case-sensitive), ", reason);
        Assert.Contains(got, reason);
    }

    [Fact]
    public void Unknown_extra_fields_are_ignored()
    {
        var json = """{"event_id":1,"event_type":"click","ad_id":3,"user_id":4,"event_time":1700000000000,"campaign":"x","nested":{"a":[1,2]},"ip":null}""";

        Assert.True(WireFormat.TryParseEvent(Encoding.UTF8.GetBytes(json), out var e, out var reason), reason);
        Assert.Equal(new AdEvent(1, EventType.Click, 3, 4, 1_700_000_000_000), e);
    }

    [Fact]
    public void Events_are_written_with_lower_case_types()
    {
        var json = Encoding.UTF8.GetString(WireFormat.Serialize(new AdEvent(1, EventType.Click, 3, 4, 5)));
        Assert.Equal("""{"event_id":1,"event_type":"click","ad_id":3,"user_id":4,"event_time":5}""", json);
    }

    [Fact]
    public void Far_future_zero_and_negative_event_times_parse_and_fail_the_event_time_guard()
    {
        const long now = 1_700_000_000_000, skew = 300_000;
        Assert.True(AdEvent.IsEventTimeInRange(now, now, skew));
        Assert.True(AdEvent.IsEventTimeInRange(now + skew, now, skew));
        Assert.True(AdEvent.IsEventTimeInRange(1, now, skew)); // old, but the watermark decides whether it is late
        Assert.False(AdEvent.IsEventTimeInRange(now + skew + 1, now, skew));
        Assert.False(AdEvent.IsEventTimeInRange(7_258_118_400_000, now, skew)); // the year 2200
        Assert.False(AdEvent.IsEventTimeInRange(long.MaxValue, now, skew));
        Assert.False(AdEvent.IsEventTimeInRange(0, now, skew));
        Assert.False(AdEvent.IsEventTimeInRange(-1, now, skew));
        Assert.False(AdEvent.IsEventTimeInRange(long.MinValue, now, skew));

        Assert.True(WireFormat.TryParseEvent(Encoding.UTF8.GetBytes("""{"event_id":1,"event_type":"view","ad_id":1,"user_id":1,"event_time":-5}"""), out var e, out _));
        Assert.Equal(-5, e.EventTime);
    }

    public static TheoryData<string> Edges => new()
    {
        "", " ", "null", "[]", "{}", "\"text\"", "42", "true",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3}""",
        """  {"event_time":3,"user_id":2,"ad_id":1,"event_type":"click","event_id":1}  \n""",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3,}""",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3} x""",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3}{}""",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3 /* c */}""",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2}""",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":null}""",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":"3"}""",
        """{"event_id":1.0,"event_type":"view","ad_id":1,"user_id":2,"event_time":3}""",
        """{"event_id":1e3,"event_type":"view","ad_id":1,"user_id":2,"event_time":3}""",
        """{"event_id":-0,"event_type":"view","ad_id":-1,"user_id":2,"event_time":-3}""",
        """{"event_id":01,"event_type":"view","ad_id":1,"user_id":2,"event_time":3}""",
        """{"event_id":9223372036854775807,"event_type":"view","ad_id":2147483647,"user_id":2,"event_time":3}""",
        """{"event_id":9223372036854775808,"event_type":"view","ad_id":1,"user_id":2,"event_time":3}""",
        """{"event_id":1,"event_type":"view","ad_id":2147483648,"user_id":2,"event_time":3}""",
        """{"Event_Id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3}""",
        """{"eventId":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3}""",
        """{"event\u005fid":1,"event_type":"\u0076iew","ad_id":1,"user_id":2,"event_time":3}""",
        """{"event_id":1,"event_id":5,"event_type":"view","ad_id":1,"user_id":2,"event_time":3}""",
        """{"event_id":1,"event_type":"view","event_type":"click","ad_id":1,"user_id":2,"event_time":3}""",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3,"x":{"y":[1,{"z":null}],"w":"\"}"}}""",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3,"x":[1,2}""",
        """{"event_id":1,"event_type":["view"],"ad_id":1,"user_id":2,"event_time":3}""",
        """{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3""",
        """{'event_id':1}""",
        """[{"event_id":1,"event_type":"view","ad_id":1,"user_id":2,"event_time":3}]""",
        "\uFEFF{\"event_id\":1,\"event_type\":\"view\",\"ad_id\":1,\"user_id\":2,\"event_time\":3}",
        "{\"event_id\":1,\"event_type\":\"view\",\"ad_id\":1,\"user_id\":2,\"event_time\":3,\"deep\":" + new string('[', 70) + new string(']', 70) + "}",
    };

    [Theory]
    [MemberData(nameof(Edges))]
    public void The_parser_accepts_exactly_what_System_Text_Json_accepts(string json) => AssertSameAsReference(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void The_parser_agrees_with_System_Text_Json_on_mutated_and_hostile_records()
    {
        var random = new Random(7);
        var valid = Encoding.UTF8.GetBytes("""{"event_id":123,"event_type":"click","ad_id":17,"user_id":99,"event_time":1700000000000,"extra":[true,{"k":"v"}]}""");
        byte[] alphabet = [.. "{}[]\":,0123456789-+.eE \\tnulfasrv_"u8, 0xC3, 0x28, 0xFF, 0x00];
        AssertSameAsReference([.. "{\"event_id\":1,\"event_type\":\""u8, 0xC3, 0x28, 0xFF, 0xFE, .. "\"}"u8]);
        AssertSameAsReference([.. "{\"event_id\":1,\"event_type\":\"view\",\"ad_id\":1,\"user_id\":2,\"event_time\":3,\"x\":\""u8, 0xC3, 0x28, .. "\"}"u8]);
        var accepted = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = valid.ToList();
            for (var edits = random.Next(1, 4); edits > 0 && bytes.Count > 0; edits--)
            {
                var at = random.Next(bytes.Count);
                switch (random.Next(3))
                {
                    case 0: bytes.RemoveAt(at); break;
                    case 1: bytes.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                    default: bytes[at] = alphabet[random.Next(alphabet.Length)]; break;
                }
            }
            if (AssertSameAsReference([.. bytes])) accepted++;
        }
        Assert.InRange(accepted, 100, 19_900); // the mutations reach both sides of the contract
    }

    /// <summary>
    /// The reference: System.Text.Json's deserializer with the wire contract's options, for the event as a class
    /// whose constructor takes the five fields, so each is required (what <see cref="AdEvent"/> was before the parser).
    /// </summary>
    private static bool AssertSameAsReference(byte[] input)
    {
        bool expectedOk;
        AdEvent expected = default;
        try
        {
            var r = JsonSerializer.Deserialize(input, ReferenceJson.Default.ReferenceEvent);
            expectedOk = r is not null;
            if (r is not null) expected = new AdEvent(r.EventId, r.EventType, r.AdId, r.UserId, r.EventTime);
        }
        catch (JsonException)
        {
            expectedOk = false;
        }
        var ok = WireFormat.TryParseEvent(input, out var e, out var reason);
        var shown = Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 200)));
        Assert.True(expectedOk == ok, $"{Encoding.UTF8.GetString(input)} ({shown}): System.Text.Json {(expectedOk ? "accepts" : "rejects")} it, the parser {(ok ? "accepts" : "rejects: " + reason)}");
        if (ok) Assert.Equal(expected, e);
        else Assert.False(string.IsNullOrWhiteSpace(reason));
        return ok;
    }

    private static byte[] Event(string type) =>
        Encoding.UTF8.GetBytes($$"""{"event_id":1,"event_type":{{type}},"ad_id":1,"user_id":2,"event_time":1700000000000}""");
}

public sealed record ReferenceEvent(long EventId, EventType EventType, int AdId, int UserId, long EventTime);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ReferenceEvent))]
public sealed partial class ReferenceJson : JsonSerializerContext;
