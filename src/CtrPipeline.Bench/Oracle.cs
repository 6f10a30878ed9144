using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using DuckDB.NET.Data;

namespace CtrPipeline.Bench;

public enum OracleVerdict { Match, Mismatch, Skipped }

/// <summary>What the oracle found: the verdict, how many rows it compared and the first differences.</summary>
public sealed record OracleReport(OracleVerdict Verdict, long EventsRead, long ExpectedRows, long EngineRows, long Differences, IReadOnlyList<string> Examples)
{
    public static OracleReport Skipped { get; } = new(OracleVerdict.Skipped, 0, 0, 0, 0, []);

    public string VerdictText => Verdict.ToString().ToLowerInvariant();
}

/// <summary>
/// The independent correctness check: recomputes views and clicks per (window, campaign) with DuckDB SQL from the
/// events actually in the events topic, joined with the catalog, leaving out only the events the engine declared late
/// (it published them to the late topic), and compares with the engine's final result rows. Shares no code with the
/// engines' windowing.
/// <para>
/// It applies the event contract of docs/contract.md as the engines do: a record that does not parse (event_type
/// other than exactly "view" or "click", among others) is not counted, and neither is an event that fails the
/// event-time guard. The guard's reference clock here is the record's Kafka timestamp, not the engine's clock at
/// processing time, which the oracle cannot know: an event is out of range when its event_time is not positive or is
/// more than Pipeline:MaxEventTimeSkew ahead of its Kafka timestamp. The two agree unless an event lands within the
/// engine's processing delay of the limit (an engine reads a record after Kafka stamped it, so it accepts at least
/// what the oracle accepts).
/// </para>
/// </summary>
public static class Oracle
{
    /// <summary>
    /// Compares the engine's final rows in <paramref name="tapped"/> (what a <see cref="TopicTap"/> given the events
    /// topic read); with <paramref name="windows"/>, only the windows starting in [From, Until): an engine ended by a
    /// trailer of events (<see cref="EndOfInput"/>) leaves the trailer's own windows open.
    /// </summary>
    public static OracleReport Verify(
        TapContents tapped, PipelineSettings pipeline, CampaignCatalog catalog, string engine, (long From, long Until)? windows = null)
    {
        var (from, until) = windows ?? (long.MinValue, long.MaxValue);
        var events = tapped.Events ?? throw new ArgumentException("The oracle needs a tap given the events topic.", nameof(tapped));
        var records = tapped.Records;
        var lostRecords = tapped.Lost;
        var late = records[pipeline.Topics.Late].Where(r => HeaderText(r.Message.Headers, "engine") == engine);
        var results = records[pipeline.Topics.Results]
            .Select(r => WireFormat.ParseResult(r.Message.Value))
            .Where(r => r.Engine == engine && r.Final && r.WindowStart >= from && r.WindowStart < until);

        using var db = new DuckDBConnection("DataSource=:memory:");
        db.Open();
        Execute(db, """
            CREATE TABLE events (event_id BIGINT, event_type VARCHAR, ad_id INTEGER, event_time BIGINT, kafka_ts BIGINT);
            CREATE TABLE late_events (event_id BIGINT);
            CREATE TABLE campaigns (ad_id INTEGER, campaign_id INTEGER);
            CREATE TABLE results (window_start BIGINT, window_end BIGINT, campaign_id INTEGER, views BIGINT, clicks BIGINT);
            """);

        using (var appender = db.CreateAppender("events"))
            foreach (var e in events)
                appender.CreateRow().AppendValue(e.EventId).AppendValue(e.Type == EventType.Click ? "click" : "view")
                    .AppendValue(e.AdId).AppendValue(e.EventTime).AppendValue(e.KafkaTimestamp).EndRow();
        using (var appender = db.CreateAppender("late_events"))
            foreach (var r in late)
                if (WireFormat.TryParseEvent(r.Message.Value, out var e, out _))
                    appender.CreateRow().AppendValue(e.EventId).EndRow();
        using (var appender = db.CreateAppender("campaigns"))
            foreach (var ad in catalog.Ads)
                appender.CreateRow().AppendValue(ad.AdId).AppendValue(ad.CampaignId).EndRow();
        using (var appender = db.CreateAppender("results"))
            foreach (var r in results)
                appender.CreateRow().AppendValue(r.WindowStart).AppendValue(r.WindowEnd).AppendValue(r.CampaignId)
                    .AppendValue(r.Views).AppendValue(r.Clicks).EndRow();

        var windowMs = (long)pipeline.WindowSize.TotalMilliseconds;
        var maxSkewMs = (long)pipeline.MaxEventTimeSkew.TotalMilliseconds;
        Execute(db, $"""
            CREATE TABLE expected AS
            SELECT (e.event_time // {windowMs}) * {windowMs} AS window_start, c.campaign_id,
                   count(*) FILTER (WHERE e.event_type = 'view') AS views,
                   count(*) FILTER (WHERE e.event_type = 'click') AS clicks
            FROM events e JOIN campaigns c ON c.ad_id = e.ad_id
            WHERE e.event_id NOT IN (SELECT event_id FROM late_events)
              AND e.event_time > 0 AND e.event_time <= e.kafka_ts + {maxSkewMs}
              AND (e.event_time // {windowMs}) * {windowMs} BETWEEN {from} AND {until - 1}
            GROUP BY ALL;
            """);

        // Every expected row must appear exactly once with equal counts, and the engine must add nothing else.
        const string differences = """
            WITH engine AS (
                SELECT window_start, campaign_id, sum(views) AS views, sum(clicks) AS clicks, count(*) AS copies,
                       bool_and(window_end - window_start = {0}) AS window_ok
                FROM results GROUP BY ALL)
            SELECT coalesce(x.window_start, g.window_start) AS window_start, coalesce(x.campaign_id, g.campaign_id) AS campaign_id,
                   x.views AS expected_views, g.views AS engine_views, x.clicks AS expected_clicks, g.clicks AS engine_clicks,
                   g.copies AS engine_copies
            FROM expected x FULL OUTER JOIN engine g ON x.window_start = g.window_start AND x.campaign_id = g.campaign_id
            WHERE x.views IS DISTINCT FROM g.views OR x.clicks IS DISTINCT FROM g.clicks OR g.copies <> 1 OR NOT g.window_ok
            ORDER BY 1, 2
            """;
        var examples = new List<string>();
        long count = 0;
        using (var cmd = db.CreateCommand())
        {
            cmd.CommandText = string.Format(System.Globalization.CultureInfo.InvariantCulture, differences, windowMs);
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                if (count++ >= 10) continue;
                var row = new StringBuilder();
                for (var i = 0; i < reader.FieldCount; i++)
                    row.Append(i == 0 ? "" : " ").Append(reader.GetName(i)).Append('=').Append(reader.IsDBNull(i) ? "-" : reader.GetValue(i));
                examples.Add(row.ToString());
            }
        }

        var expectedRows = Scalar(db, "SELECT count(*) FROM expected");
        var engineRows = Scalar(db, "SELECT count(*) FROM results");
        if (lostRecords > 0) examples.Insert(0, $"the broker dropped {lostRecords} records before the oracle read them (embedded broker retention)");
        var verdict = count == 0 && lostRecords == 0 ? OracleVerdict.Match : OracleVerdict.Mismatch;
        return new OracleReport(verdict, tapped.EventRecords, expectedRows, engineRows, count, examples);
    }

    internal static string? HeaderText(Headers? headers, string key) =>
        headers is not null && headers.TryGetLastBytes(key, out var value) ? Encoding.UTF8.GetString(value) : null;

    internal static void Execute(DuckDBConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    internal static long Scalar(DuckDBConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
