using System.Diagnostics;
using System.Text;

namespace FlinkGateway.Tests;

/// <summary>
/// The generated job must parse on a real Flink: no identifier in it may be a word Flink reserves unless it is quoted.
/// The reserved words are test data with their sources (Data/flink-reserved-keywords.txt); the SQL is what
/// `FlinkGateway print-sql` prints.
/// </summary>
public sealed class ReservedKeywordTests
{
    /// <summary>
    /// The words the job uses as SQL itself (keywords, types, functions). Any other bare word is an identifier. A word
    /// added here must be one the job really uses as syntax, never a table, column or alias name.
    /// </summary>
    private static readonly HashSet<string> Syntax = new(StringComparer.OrdinalIgnoreCase)
    {
        "SET", "CREATE", "TEMPORARY", "TABLE", "VIEW", "AS", "WITH", "METADATA", "FROM", "VIRTUAL", "WATERMARK", "FOR",
        "PRIMARY", "KEY", "NOT", "ENFORCED", "NULL", "SELECT", "WHERE", "AND", "IS", "IN", "JOIN", "SYSTEM_TIME", "OF", "ON",
        "INSERT", "INTO", "CAST", "CASE", "WHEN", "THEN", "ELSE", "END", "TRUE", "COUNT", "FILTER", "MAX", "GROUP", "BY",
        "TUMBLE", "DESCRIPTOR", "INTERVAL", "SECOND", "BIGINT", "INT", "STRING", "DOUBLE", "BOOLEAN", "TIMESTAMP",
        "TIMESTAMP_LTZ", "TO_TIMESTAMP_LTZ", "COALESCE", "UNIX_TIMESTAMP", "DATE_FORMAT", "CURRENT_ROW_TIMESTAMP",
        "BYTES", "MAP", "OR", "JSON", "OBJECT", "JSON_VALUE", "JSON_QUERY", "UNCONDITIONAL", "ARRAY", "WRAPPER", "TRY_CAST",
        "REGEXP_EXTRACT", "DECODE", "ENCODE", "EXECUTE", "STATEMENT", "BEGIN",
    };

    private static readonly Lazy<HashSet<string>> Reserved = new(() => new HashSet<string>(
        File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Data", "flink-reserved-keywords.txt"))
            .Where(line => !line.StartsWith('#'))
            .SelectMany(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)),
        StringComparer.OrdinalIgnoreCase));

    [Theory]
    [InlineData]
    [InlineData("--Flink:DeliveryGuarantee=exactly-once", "--Pipeline:Topics:Events=ad_events", "--Pipeline:Topics:Results=ctr_out",
        "--Pipeline:WindowSize=00:01:00", "--Pipeline:MaxEventTimeSkew=00:10:00", "--Flink:JobName=ctr-bench", "--Flink:Parallelism=2")]
    public async Task Print_sql_uses_no_reserved_word_as_a_bare_identifier(params string[] settings)
    {
        var sql = await PrintSqlAsync(settings);

        Assert.Contains("`views`", sql);
        Assert.Empty(BareReservedIdentifiers(sql));
    }

    [Fact]
    public void The_check_finds_the_bare_views_column_that_a_real_flink_refuses()
    {
        const string before = "CREATE TEMPORARY TABLE ctr_results (views BIGINT, clicks BIGINT, `final` BOOLEAN);\n"
            + "INSERT INTO ctr_results SELECT COUNT(*) FILTER (WHERE event_type = 'view') AS views, 'final' FROM events";

        Assert.Equal(["views"], BareReservedIdentifiers(before).Distinct());
    }

    [Fact]
    public void The_reserved_words_include_the_documented_list_and_the_parsers_own()
    {
        Assert.Contains("VALUE", Reserved.Value); // documented
        Assert.Contains("VIEWS", Reserved.Value); // Flink's Parser.tdd only
        Assert.True(Reserved.Value.Count > 500, $"{Reserved.Value.Count} words");
    }

    /// <summary>Bare words (outside string literals and backticks) that are neither SQL syntax the job uses nor unreserved.</summary>
    private static List<string> BareReservedIdentifiers(string sql) =>
        BareWords(sql).Where(word => !Syntax.Contains(word) && Reserved.Value.Contains(word)).ToList();

    private static IEnumerable<string> BareWords(string sql)
    {
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (c is '\'' or '`')
            {
                // A literal or a quoted identifier; a doubled quote inside stands for one.
                i++;
                while (i < sql.Length && !(sql[i] == c && (i + 1 == sql.Length || sql[i + 1] != c))) i += sql[i] == c ? 2 : 1;
                i++;
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                var start = i;
                while (i < sql.Length && (char.IsAsciiLetterOrDigit(sql[i]) || sql[i] == '_')) i++;
                yield return sql[start..i];
            }
            else if (char.IsAsciiDigit(c))
            {
                while (i < sql.Length && (char.IsAsciiLetterOrDigit(sql[i]) || sql[i] == '.')) i++; // 0E0, 1000
            }
            else i++;
        }
    }

    private static async Task<string> PrintSqlAsync(string[] settings)
    {
        var start = WorkerProcess.StartInfo("FlinkGateway", new Dictionary<string, string> { ["ConnectionStrings__kafka"] = "kafka:9093" },
            ["print-sql", .. settings]);
        var (exitCode, stdout, stderr) = await WorkerProcess.RunAsync(start, TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"print-sql exited {exitCode}: {stderr}");
        return stdout;
    }
}
