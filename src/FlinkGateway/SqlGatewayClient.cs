using System.Text.Json.Nodes;

namespace FlinkGateway;

/// <summary>What a finished statement returned: the job it started (INSERT), and its rows as JSON arrays of fields.</summary>
public sealed record StatementResult(string? JobId, IReadOnlyList<JsonArray> Rows);

/// <summary>
/// A client of the Flink SQL Gateway REST API, version v2 (Flink 1.17 and later): open a session, execute a statement
/// and wait for its operation, fetch its results, close the session. Errors come back as <see cref="FlinkException"/>s
/// carrying Flink's own text. It takes its <see cref="HttpClient"/> from the caller and never retries a POST on its
/// own: a statement sent twice could start the job twice.
/// </summary>
public sealed class SqlGatewayClient(HttpClient http, TimeSpan statementTimeout)
{
    private const string What = "Flink SQL Gateway";
    private static readonly string[] Terminal = ["FINISHED", "ERROR", "CANCELED", "CLOSED", "TIMEOUT"];

    public Uri Address => http.BaseAddress ?? throw new InvalidOperationException("The HttpClient needs a BaseAddress.");

    /// <summary>GET /v2/info: the Flink version behind the gateway.</summary>
    public async Task<string> GetVersionAsync(CancellationToken cancel)
    {
        var info = await SendAsync(HttpMethod.Get, "v2/info", null, cancel);
        return info?["version"]?.GetValue<string>() ?? "unknown";
    }

    /// <summary>POST /v2/sessions; returns the session handle.</summary>
    public async Task<string> OpenSessionAsync(string sessionName, CancellationToken cancel)
    {
        var body = await SendAsync(HttpMethod.Post, "v2/sessions", new JsonObject { ["sessionName"] = sessionName }, cancel);
        return body?["sessionHandle"]?.GetValue<string>() ?? throw new FlinkException("The SQL Gateway opened a session but sent no sessionHandle.");
    }

    /// <summary>POST /v2/sessions/{session}/heartbeat: keeps an idle session from expiring.</summary>
    public Task HeartbeatAsync(string session, CancellationToken cancel) =>
        SendAsync(HttpMethod.Post, $"v2/sessions/{session}/heartbeat", null, cancel);

    /// <summary>DELETE /v2/sessions/{session}.</summary>
    public Task CloseSessionAsync(string session, CancellationToken cancel) =>
        SendAsync(HttpMethod.Delete, $"v2/sessions/{session}", null, cancel);

    /// <summary>
    /// Runs one statement to the end of its operation: POST it, poll the operation's status until it is terminal, then
    /// read every page of its result. A statement that fails throws <see cref="FlinkStatementException"/>.
    /// </summary>
    public async Task<StatementResult> ExecuteAsync(string session, string statement, CancellationToken cancel)
    {
        var submitted = await SendAsync(HttpMethod.Post, $"v2/sessions/{session}/statements", new JsonObject { ["statement"] = statement }, cancel, statement);
        var operation = submitted?["operationHandle"]?.GetValue<string>()
            ?? throw new FlinkException("The SQL Gateway accepted a statement but sent no operationHandle.");
        var prefix = $"v2/sessions/{session}/operations/{operation}";

        var status = await WaitForTerminalStatusAsync(prefix, statement, cancel);
        if (status != "FINISHED" && status != "ERROR")
            throw new FlinkStatementException(statement, $"the operation ended as {status}");

        // An operation in ERROR answers its result request with the error (HTTP 500), which SendAsync turns into the exception.
        string? jobId = null;
        var rows = new List<JsonArray>();
        var next = $"{prefix}/result/0?rowFormat=JSON";
        while (next is not null)
        {
            var page = await SendAsync(HttpMethod.Get, next, null, cancel, statement);
            if (status == "ERROR") throw new FlinkStatementException(statement, "the operation failed without an error text");
            jobId ??= page?["jobID"]?.GetValue<string>();
            foreach (var row in page?["results"]?["data"]?.AsArray() ?? [])
                if (row?["fields"] is JsonArray fields) rows.Add(fields);
            next = page?["resultType"]?.GetValue<string>() switch
            {
                "EOS" => null,
                "NOT_READY" => await Delay(page!["nextResultUri"]?.GetValue<string>(), cancel),
                _ => page?["nextResultUri"]?.GetValue<string>(),
            };
        }
        return new StatementResult(jobId ?? JobIdColumn(rows), rows);
    }

    private async Task<string> WaitForTerminalStatusAsync(string operationPrefix, string statement, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + statementTimeout;
        var pause = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            var body = await SendAsync(HttpMethod.Get, $"{operationPrefix}/status", null, cancel, statement);
            var status = body?["status"]?.GetValue<string>() ?? "UNKNOWN";
            if (Terminal.Contains(status)) return status;
            if (DateTime.UtcNow > deadline)
                throw new FlinkStatementException(statement, $"still {status} after {statementTimeout.TotalSeconds:0} s (Flink:StartupTimeout)");
            await Task.Delay(pause, cancel);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 1000));
        }
    }

    private static async Task<string?> Delay(string? next, CancellationToken cancel)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(100), cancel);
        return next;
    }

    /// <summary>Gateways that do not send jobID put it in a "job id" column.</summary>
    private static string? JobIdColumn(List<JsonArray> rows) =>
        rows is [[JsonValue value]] && value.TryGetValue<string>(out var text) && text.Length == 32 ? text : null;

    private async Task<JsonNode?> SendAsync(HttpMethod method, string path, JsonNode? body, CancellationToken cancel, string? statement = null)
    {
        var response = await FlinkHttp.SendAsync(http, What, method, path, body, cancel);
        if (!response.IsSuccess && statement is not null) throw new FlinkStatementException(statement, response.Error);
        return response.Require(method, path);
    }
}
