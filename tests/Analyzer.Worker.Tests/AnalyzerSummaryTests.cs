using System.Text.Json;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using static Analyzer.Worker.Tests.LatencyRecorderTests;

namespace Analyzer.Worker.Tests;

public sealed class AnalyzerSummaryTests
{
    private const long T0 = 1_700_000_000_000;
    private static readonly DateTimeOffset WrittenAt = DateTimeOffset.FromUnixTimeMilliseconds(T0);

    private static IReadOnlyList<EngineLatency> Measure(TimestampType type)
    {
        var recorder = new LatencyRecorder();
        recorder.Record(Row(Engines.NativeContinuous, T0 - 120, T0), new Timestamp(T0 + 3, type), T0 + 9);
        recorder.Record(Row(Engines.NativeContinuous, T0 - 80, T0, final: false), new Timestamp(T0 + 3, type), T0 + 9);
        return recorder.Snapshot();
    }

    [Fact]
    public void Json_summary_uses_snake_case_and_says_what_was_measured()
    {
        var json = AnalyzerSummary.Of(Measure(TimestampType.CreateTime), malformed: 2, WrittenAt).ToJson();

        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(WrittenAt, root.GetProperty("written_at").GetDateTimeOffset());
        Assert.Equal("ms", root.GetProperty("unit").GetString());
        Assert.Equal(2, root.GetProperty("malformed").GetInt64());
        Assert.Equal(LatencyDefinitions.CreateTimeNote, root.GetProperty("timestamp_note").GetString());
        Assert.Equal(LatencyDefinitions.L2Received, root.GetProperty("definitions").GetProperty("l2_received").GetString());

        var engine = Assert.Single(root.GetProperty("engines").EnumerateArray().ToList());
        Assert.Equal(Engines.NativeContinuous, engine.GetProperty("engine").GetString());
        Assert.Equal((2, 1), (engine.GetProperty("results").GetInt64(), engine.GetProperty("final_results").GetInt64()));
        Assert.Equal("CreateTime", engine.GetProperty("timestamp_type").GetString());
        var l1 = engine.GetProperty("l1");
        Assert.Equal((2, 80, 120, 120, 0), (l1.GetProperty("count").GetInt64(), l1.GetProperty("p50").GetDouble(),
            l1.GetProperty("p999").GetDouble(), l1.GetProperty("max").GetDouble(), l1.GetProperty("clamped_negative").GetInt64()));
        Assert.Equal(9, engine.GetProperty("l2_received").GetProperty("p99").GetDouble());
    }

    [Fact]
    public void Log_appended_timestamps_need_no_note()
    {
        var summary = AnalyzerSummary.Of(Measure(TimestampType.LogAppendTime), malformed: 0, WrittenAt);

        Assert.Null(summary.TimestampNote);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(summary.ToJson()).RootElement.GetProperty("timestamp_note").ValueKind);
        Assert.DoesNotContain("CreateTime", summary.ToTable());
    }

    [Fact]
    public void Table_has_one_line_per_engine_then_the_malformed_count_and_the_note()
    {
        var table = AnalyzerSummary.Of(Measure(TimestampType.CreateTime), malformed: 3, WrittenAt).ToTable();

        var lines = table.Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("engine", lines[0]);
        Assert.Equal(["native-continuous", "2", "0", "80ms", "120ms", "3ms", "9ms", "CreateTime"],
            lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("3 record(s)", lines[2]);
        Assert.Equal(LatencyDefinitions.CreateTimeNote, lines[3]);
    }
}
