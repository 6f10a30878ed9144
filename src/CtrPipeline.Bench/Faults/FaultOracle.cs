using System.Globalization;
using System.Text;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using DuckDB.NET.Data;

namespace CtrPipeline.Bench.Faults;

/// <summary>What one engine's output looked like after a fault run (definitions in docs/faults.md).</summary>
public sealed record FaultCounts(
    long MissingWindows, long WrongWindows, long DuplicateFinals, long Dlq, long Late,
    long ExpectedDlq, long DlqWithoutReason, long WindowsChecked, long EventsRead, long LostRecords, IReadOnlyList<string> Examples);

/// <summary>
/// The fault runs' correctness check: an independent recount with DuckDB, like <see cref="Oracle"/>, with the rules a
/// fault run needs. Only valid events count (<see cref="EventContract"/>, not the engines' parser). No event is
/// subtracted because the engine sent it to the late topic: the producer's disorder stays under the watermark delay,
/// so no event of a fault run is truly late, and an event an engine calls late is an event it failed to count. Per
/// (window, campaign) the FIRST final row the engine published is compared, the one a consumer acts on; later final
/// rows are counted as duplicates. Only the windows between the start of the load and the last window the trailer
/// closed are judged (<paramref name="firstWindow"/> inclusive to <paramref name="endWindow"/> exclusive).
/// </summary>
public static class FaultOracle
{
    public static FaultCounts Verify(TapContents tapped, PipelineSettings pipeline, CampaignCatalog catalog, string engine, long firstWindow, long endWindow)
    {
        var (records, lostRecords) = (tapped.Records, tapped.Lost);
        var windowMs = (long)pipeline.WindowSize.TotalMilliseconds;
        var events = records[pipeline.Topics.Events];
        var dlq = records[pipeline.Topics.DeadLetters].Where(r => Header(r, "engine") == engine).ToList();
        var late = records[pipeline.Topics.Late].Count(r => Header(r, "engine") == engine);

        using var db = new DuckDBConnection("DataSource=:memory:");
        db.Open();
        Execute(db, """
            CREATE TABLE events (window_start BIGINT, campaign_id INTEGER, click BOOLEAN);
            CREATE TABLE results (part INTEGER, off BIGINT, window_start BIGINT, window_end BIGINT, campaign_id INTEGER, views BIGINT, clicks BIGINT);
            """);
        long invalid = 0;
        using (var appender = db.CreateAppender("events"))
            foreach (var r in events)
            {
                if (!EventContract.TryRead(r.Message.Value, r.Message.Timestamp.UnixTimestampMs, (long)pipeline.MaxEventTimeSkew.TotalMilliseconds, catalog, out var e))
                {
                    invalid++;
                    continue;
                }
                var start = Math.DivRem(e.EventTime, windowMs).Quotient * windowMs;
                if (start >= firstWindow && start < endWindow)
                    appender.CreateRow().AppendValue(start).AppendValue(e.CampaignId).AppendValue(e.Click).EndRow();
            }
        long finals = 0;
        using (var appender = db.CreateAppender("results"))
            foreach (var r in records[pipeline.Topics.Results])
            {
                var row = WireFormat.ParseResult(r.Message.Value);
                if (row.Engine != engine || !row.Final) continue;
                finals++;
                appender.CreateRow().AppendValue(r.Partition.Value).AppendValue(r.Offset.Value).AppendValue(row.WindowStart).AppendValue(row.WindowEnd)
                    .AppendValue(row.CampaignId).AppendValue(row.Views).AppendValue(row.Clicks).EndRow();
            }

        var distinctFinals = Scalar(db, "SELECT count(*) FROM (SELECT DISTINCT window_start, campaign_id FROM results)");
        Execute(db, string.Create(CultureInfo.InvariantCulture, $"""
            CREATE TABLE expected AS
            SELECT window_start, campaign_id, count(*) FILTER (WHERE NOT click) AS views, count(*) FILTER (WHERE click) AS clicks
            FROM events GROUP BY ALL;
            -- The first final row per (window, campaign): rows of one campaign share a key, so one partition, in publication order.
            CREATE TABLE firsts AS
            SELECT window_start, window_end, campaign_id, views, clicks FROM (
                SELECT *, row_number() OVER (PARTITION BY window_start, campaign_id ORDER BY part, off) AS n FROM results)
            WHERE n = 1 AND window_start >= {firstWindow} AND window_start < {endWindow};
            CREATE TABLE compared AS
            SELECT coalesce(x.window_start, f.window_start) AS window_start, coalesce(x.campaign_id, f.campaign_id) AS campaign_id,
                   x.views AS expected_views, x.clicks AS expected_clicks, f.views AS first_final_views, f.clicks AS first_final_clicks,
                   x.campaign_id IS NOT NULL AS expected, f.campaign_id IS NOT NULL AS published,
                   f.window_end IS NOT NULL AND f.window_end - f.window_start <> {windowMs} AS bad_bounds
            FROM expected x FULL OUTER JOIN firsts f ON x.window_start = f.window_start AND x.campaign_id = f.campaign_id;
            CREATE TABLE windows AS
            SELECT window_start,
                   bool_or(expected AND NOT published) AS missing,
                   bool_or(published AND (NOT expected OR bad_bounds OR expected_views <> first_final_views OR expected_clicks <> first_final_clicks)) AS wrong
            FROM compared GROUP BY window_start;
            """));
        var missing = Scalar(db, "SELECT count(*) FROM windows WHERE missing");
        var wrong = Scalar(db, "SELECT count(*) FROM windows WHERE wrong AND NOT missing");
        var checkedWindows = Scalar(db, "SELECT count(*) FROM windows");

        var examples = new List<string>();
        if (lostRecords > 0) examples.Add($"the broker dropped {lostRecords} records before the tap read them (embedded broker keeps 5 MiB per partition): the recount is incomplete");
        using (var cmd = db.CreateCommand())
        {
            cmd.CommandText = """
                SELECT c.window_start, c.campaign_id, expected_views, expected_clicks, first_final_views, first_final_clicks, published, expected, bad_bounds
                FROM compared c JOIN windows w USING (window_start)
                WHERE (w.missing OR w.wrong) AND (NOT published OR NOT expected OR bad_bounds OR expected_views <> first_final_views OR expected_clicks <> first_final_clicks)
                ORDER BY c.window_start, c.campaign_id LIMIT 10
                """;
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                var window = $"window {DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0)):yyyy-MM-ddTHH:mm:ss}Z campaign {reader.GetInt32(1)}";
                examples.Add(!reader.GetBoolean(6)
                    ? $"{window}: no final row (expected views={reader.GetInt64(2)} clicks={reader.GetInt64(3)})"
                    : !reader.GetBoolean(7)
                        ? $"{window}: final row views={reader.GetInt64(4)} clicks={reader.GetInt64(5)} but no valid event in that window and campaign"
                        : reader.GetBoolean(8)
                            ? $"{window}: final row with window bounds that are not one window long"
                            : $"{window}: expected views={reader.GetInt64(2)} clicks={reader.GetInt64(3)}, first final row views={reader.GetInt64(4)} clicks={reader.GetInt64(5)}");
            }
        }

        var withoutReason = dlq.Count(r => string.IsNullOrWhiteSpace(Header(r, "error")));
        return new FaultCounts(missing, wrong, finals - distinctFinals, dlq.Count, late, invalid, withoutReason, checkedWindows, events.Count, lostRecords, examples);
    }

    public static string? Header(ConsumeResult<string, byte[]> record, string key) => Oracle.HeaderText(record.Message.Headers, key);

    private static void Execute(DuckDBConnection db, string sql) => Oracle.Execute(db, sql);

    private static long Scalar(DuckDBConnection db, string sql) => Oracle.Scalar(db, sql);
}
