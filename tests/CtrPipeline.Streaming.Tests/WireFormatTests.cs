using System.Text;
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
        Assert.Equal(expected, e!.EventType);
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
        Assert.Null(e);
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
        Assert.Equal(-5, e!.EventTime);
    }

    private static byte[] Event(string type) =>
        Encoding.UTF8.GetBytes($$"""{"event_id":1,"event_type":{{type}},"ad_id":1,"user_id":2,"event_time":1700000000000}""");
}
