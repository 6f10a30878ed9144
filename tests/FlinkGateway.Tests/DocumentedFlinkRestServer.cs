using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace FlinkGateway.Tests;

/// <summary>
/// NOT FLINK: a local HTTP server that answers as the documented Flink REST APIs do, for protocol tests on a machine
/// without Flink. It serves the SQL Gateway REST API v2 (sessions, statements, operation status, paged results, errors
/// as <c>{"errors": [...]}</c> with HTTP 500) and the part of the JobManager REST API the engine uses (jobs overview,
/// job details with vertex metrics, back pressure, exceptions, cancel). Shapes follow Flink 1.20's
/// rest_v2_sql_gateway.yml and the JobManager's REST documentation. It records every request, and runs a "job" for
/// the INSERT or statement set it is sent.
/// </summary>
public sealed class DocumentedFlinkRestServer : IAsyncDisposable
{
    public const string JobId = "5f3c2a1b9e8d7c6b5a4f3e2d1c0b9a88";
    public const string LeftoverJobId = "0123456789abcdef0123456789abcdef";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Operation> _operations = new();
    private readonly ConcurrentDictionary<string, DateTime> _sessionLastAccess = new();
    private int _jobPolls;

    private sealed record Operation(string Statement, bool Fails)
    {
        public int StatusPolls;
    }

    /// <summary>Statements whose text contains this fail as Flink fails an invalid statement.</summary>
    public string? FailStatementsContaining { get; init; }

    /// <summary>
    /// A failing statement's error lists its table's options, as Flink's FactoryUtil does when it cannot create a
    /// table ("Table options are: 'key'='value' ..."), every value shown: the worst case for a secret in an option.
    /// </summary>
    public bool ErrorsListTableOptions { get; init; }

    /// <summary>The job's state from this poll of /jobs/{id} on (null: it keeps RUNNING).</summary>
    public (int Poll, string State)? JobStateChange { get; init; }

    /// <summary>A job of the engine's name already RUNNING on the cluster, as an earlier run would leave it.</summary>
    public bool WithLeftoverJob { get; init; }

    /// <summary>
    /// sql-gateway.session.idle-timeout: a session that receives no request (a heartbeat counts) for this long is
    /// closed by the gateway, and every later request naming it fails as Flink's does. Null: sessions never expire.
    /// </summary>
    public TimeSpan? SessionIdleTimeout { get; init; }

    public ConcurrentQueue<string> Heartbeats { get; } = new();
    public ConcurrentQueue<string> ExpiredSessions { get; } = new();

    public ConcurrentQueue<string> Requests { get; } = new();
    public ConcurrentQueue<string> Statements { get; } = new();
    public ConcurrentQueue<string> SessionNames { get; } = new();
    public ConcurrentQueue<string> ClosedSessions { get; } = new();
    public ConcurrentQueue<string> CancelledJobs { get; } = new();

    /// <summary>The savepoints of the jobs stopped with STOP JOB ... WITH SAVEPOINT, in order.</summary>
    public ConcurrentQueue<string> StoppedWithSavepoint { get; } = new();

    /// <summary>Where the stand-in "writes" the savepoint of a job (Flink names them savepoint-&lt;job id prefix&gt;-&lt;random&gt;).</summary>
    public static string SavepointOf(string jobId) => $"file:/opt/ctr/state/savepoints/savepoint-{jobId[..6]}-0a1b2c3d4e5f";
    public int JobPolls => _jobPolls;

    public Uri Address { get; private set; } = null!;

    public const string FlinkValidationError =
        "<Exception on server side:\norg.apache.flink.table.gateway.api.utils.SqlGatewayException: Failed to fetchResults.\n"
        + "\tat org.apache.flink.table.gateway.rest.handler.statement.FetchResultsHandler.handleRequest(FetchResultsHandler.java:91)\n"
        + "\tat org.apache.flink.runtime.rest.handler.AbstractHandler.respondAsLeader(AbstractHandler.java:196)\n"
        + "Caused by: org.apache.flink.table.gateway.service.utils.SqlExecutionException: Failed to execute the operation 1c5e.\n"
        + "\tat org.apache.flink.table.gateway.service.operation.OperationManager$Operation.processThrowable(OperationManager.java:414)\n"
        + "Caused by: org.apache.flink.table.api.ValidationException: Could not find any factory for identifier 'kafka' that implements "
        + "'org.apache.flink.table.factories.DynamicTableFactory' in the classpath.\n\nAvailable factory identifiers are:\n\nblackhole\ndatagen\nfilesystem\nprint\n"
        + "\tat org.apache.flink.table.factories.FactoryUtil.discoverFactory(FactoryUtil.java:608)\n"
        + "\t... 23 more\n\nEnd of exception on server side>";

    private DocumentedFlinkRestServer(WebApplication app) => _app = app;

    public static async Task<DocumentedFlinkRestServer> StartAsync(Func<DocumentedFlinkRestServer> configure)
    {
        var server = configure();
        await server._app.StartAsync();
        server.Address = new Uri(server._app.Urls.Single() + "/");
        return server;
    }

    public static Func<DocumentedFlinkRestServer> Configure(
        string? failStatementsContaining = null, (int, string)? jobStateChange = null, bool withLeftoverJob = false, TimeSpan? sessionIdleTimeout = null,
        bool errorsListTableOptions = false) =>
        () =>
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var server = new DocumentedFlinkRestServer(builder.Build())
            {
                FailStatementsContaining = failStatementsContaining,
                JobStateChange = jobStateChange,
                WithLeftoverJob = withLeftoverJob,
                SessionIdleTimeout = sessionIdleTimeout,
                ErrorsListTableOptions = errorsListTableOptions,
            };
            server.MapRoutes();
            return server;
        };

    private void MapRoutes()
    {
        _app.Use(async (context, next) =>
        {
            Requests.Enqueue($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}");
            if (SessionOf(context.Request.Path) is { } session && !Touch(session))
            {
                await Error(500, "Internal server error.",
                        $"<Exception on server side:\norg.apache.flink.table.gateway.api.utils.SqlGatewayException: Session '{session}' does not exist.\n\nEnd of exception on server side>")
                    .ExecuteAsync(context);
                return;
            }
            await next();
        });

        // --- SQL Gateway REST API v2 ---
        _app.MapGet("/v2/info", () => Json(new JsonObject { ["productName"] = "Apache Flink", ["version"] = "1.20.1" }));
        _app.MapPost("/v2/sessions", async (HttpRequest request) =>
        {
            var body = await JsonNode.ParseAsync(request.Body);
            SessionNames.Enqueue(body?["sessionName"]?.GetValue<string>() ?? "");
            var session = Guid.NewGuid().ToString();
            _sessionLastAccess[session] = DateTime.UtcNow;
            return Json(new JsonObject { ["sessionHandle"] = session });
        });
        _app.MapPost("/v2/sessions/{session}/heartbeat", (string session) =>
        {
            Heartbeats.Enqueue(session);
            return Json(new JsonObject());
        });
        _app.MapDelete("/v2/sessions/{session}", (string session) =>
        {
            _sessionLastAccess.TryRemove(session, out _);
            ClosedSessions.Enqueue(session);
            return Json(new JsonObject { ["status"] = "CLOSED" });
        });
        _app.MapPost("/v2/sessions/{session}/statements", async (string session, HttpRequest request) =>
        {
            var statement = (await JsonNode.ParseAsync(request.Body))?["statement"]?.GetValue<string>() ?? "";
            Statements.Enqueue(statement);
            var handle = Guid.NewGuid().ToString();
            _operations[handle] = new Operation(statement, FailStatementsContaining is { } fail && statement.Contains(fail));
            return Json(new JsonObject { ["operationHandle"] = handle });
        });
        _app.MapGet("/v2/sessions/{session}/operations/{operation}/status", (string operation) =>
        {
            var op = _operations[operation];
            // RUNNING on the first poll, as a real statement is for a moment.
            var status = Interlocked.Increment(ref op.StatusPolls) == 1 ? "RUNNING" : op.Fails ? "ERROR" : "FINISHED";
            return Json(new JsonObject { ["status"] = status });
        });
        _app.MapGet("/v2/sessions/{session}/operations/{operation}/result/{token:long}", (string session, string operation, long token, string? rowFormat) =>
        {
            if (rowFormat != "JSON") return Error(400, "Required query parameter rowFormat is missing or not JSON.");
            var op = _operations[operation];
            if (op.Fails) return Error(500, "Internal server error.", ErrorsListTableOptions ? TableOptionsError(op.Statement) : FlinkValidationError);
            if (token > 0) return Json(new JsonObject { ["resultType"] = "EOS", ["isQueryResult"] = false, ["resultKind"] = "SUCCESS_WITH_CONTENT" });

            var insert = op.Statement.TrimStart().StartsWith("INSERT", StringComparison.OrdinalIgnoreCase)
                || op.Statement.TrimStart().StartsWith("EXECUTE STATEMENT SET", StringComparison.OrdinalIgnoreCase);
            // STOP JOB '<id>' WITH SAVEPOINT answers one row, its column "savepoint path" (OperationExecutor.callStopJobOperation).
            var savepoint = System.Text.RegularExpressions.Regex.Match(op.Statement, "^STOP JOB '([0-9a-f]{32})' WITH SAVEPOINT$") is { Success: true } stop
                ? SavepointOf(stop.Groups[1].Value)
                : null;
            if (savepoint is not null && token == 0) StoppedWithSavepoint.Enqueue(savepoint);
            var page = new JsonObject
            {
                ["resultType"] = "PAYLOAD",
                ["isQueryResult"] = false,
                ["resultKind"] = "SUCCESS_WITH_CONTENT",
                ["results"] = new JsonObject
                {
                    ["columns"] = new JsonArray(new JsonObject
                    {
                        ["name"] = insert ? "job id" : savepoint is not null ? "savepoint path" : "result",
                        ["logicalType"] = new JsonObject { ["type"] = "VARCHAR", ["nullable"] = true, ["length"] = 2147483647 },
                        ["comment"] = null,
                    }),
                    ["rowFormat"] = "JSON",
                    ["data"] = new JsonArray(new JsonObject { ["kind"] = "INSERT", ["fields"] = new JsonArray(insert ? JobId : savepoint ?? "OK") }),
                },
                ["nextResultUri"] = $"/v2/sessions/{session}/operations/{operation}/result/1?rowFormat=JSON",
            };
            if (insert) page["jobID"] = JobId;
            return Json(page);
        });

        // --- JobManager REST API ---
        _app.MapGet("/jobs/overview", () => Json(new JsonObject
        {
            ["jobs"] = new JsonArray([.. (WithLeftoverJob ? new[] { (LeftoverJobId, "RUNNING") } : []).Select(j => (JsonNode)new JsonObject
            {
                ["jid"] = j.Item1, ["name"] = "ctr-pipeline", ["state"] = j.Item2, ["start-time"] = 1_700_000_000_000L,
            })]),
        }));
        _app.MapGet("/jobs/{id}", (string id) =>
        {
            if (id != JobId) return Error(404, "Job could not be found.");
            var poll = Interlocked.Increment(ref _jobPolls);
            var state = JobStateChange is { } change && poll >= change.Poll ? change.State : "RUNNING";
            return Json(new JsonObject
            {
                ["jid"] = JobId,
                ["name"] = "ctr-pipeline",
                ["state"] = state,
                ["vertices"] = new JsonArray(
                    Vertex("cbc357ccb763df2852fee8c4fc7d55f2", "Source: events[1] -> Calc[2] -> WatermarkAssigner[3]", 0, 1000L * poll),
                    Vertex("90bea66de1c231edf33913ecd54406c1", "WindowAggregate[5] -> Calc[6] -> Sink: ctr_results[7]", 1000L * poll, 0)),
            });
        });
        _app.MapGet("/jobs/{id}/vertices/{vertex}/backpressure", (string vertex) => Json(new JsonObject
        {
            ["status"] = "ok",
            ["backpressure-level"] = "low",
            ["end-timestamp"] = 1_700_000_000_000L,
            ["subtasks"] = new JsonArray(
                new JsonObject { ["subtask"] = 0, ["backpressure-level"] = "ok", ["ratio"] = 0.05, ["idleRatio"] = 0.9, ["busyRatio"] = 0.05 },
                new JsonObject { ["subtask"] = 1, ["backpressure-level"] = "low", ["ratio"] = 0.25, ["idleRatio"] = 0.5, ["busyRatio"] = 0.25 }),
        }));
        _app.MapGet("/jobs/{id}/exceptions", () => Json(new JsonObject
        {
            ["root-exception"] = "org.apache.kafka.common.errors.TimeoutException: Topic events not present in metadata after 60000 ms.\n"
                + "\tat org.apache.kafka.clients.producer.KafkaProducer.waitOnMetadata(KafkaProducer.java:1135)\n",
            ["timestamp"] = 1_700_000_000_000L,
            ["truncated"] = false,
        }));
        _app.MapMethods("/jobs/{id}", ["PATCH"], (string id, string? mode) =>
        {
            if (mode != "cancel") return Error(400, "mode must be cancel");
            CancelledJobs.Enqueue(id);
            return Results.Json(new JsonObject(), statusCode: 202);
        });
    }

    /// <summary>The session a request names (/v2/sessions/{session}/...), if any.</summary>
    private static string? SessionOf(PathString path) =>
        path.Value?.Split('/', StringSplitOptions.RemoveEmptyEntries) is ["v2", "sessions", var session, ..] ? session : null;

    /// <summary>Marks the session used now; false when it does not exist, or expired since its last request.</summary>
    private bool Touch(string session)
    {
        if (!_sessionLastAccess.TryGetValue(session, out var last)) return false;
        var now = DateTime.UtcNow;
        if (SessionIdleTimeout is { } idle && now - last > idle)
        {
            _sessionLastAccess.TryRemove(session, out _);
            ExpiredSessions.Enqueue(session);
            return false;
        }
        _sessionLastAccess[session] = now;
        return true;
    }

    private static JsonObject Vertex(string id, string name, long read, long written) => new()
    {
        ["id"] = id,
        ["name"] = name,
        ["parallelism"] = 4,
        ["status"] = "RUNNING",
        ["metrics"] = new JsonObject
        {
            ["read-bytes"] = read * 100, ["read-records"] = read, ["write-bytes"] = written * 100, ["write-records"] = written,
        },
    };

    private static IResult Json(JsonNode body) => Results.Content(body.ToJsonString(), "application/json");

    /// <summary>FactoryUtil's error for a table it cannot create: the options of the statement's WITH clause, unquoted, one a line.</summary>
    private static string TableOptionsError(string statement)
    {
        var options = System.Text.RegularExpressions.Regex.Matches(statement, @"^\s*'([^']+)' = '((?:[^']|'')*)',?$", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => $"'{m.Groups[1].Value}'='{m.Groups[2].Value.Replace("''", "'")}'");
        return "<Exception on server side:\norg.apache.flink.table.gateway.service.utils.SqlExecutionException: Failed to execute the operation 1c5e.\n"
            + "Caused by: org.apache.flink.table.api.ValidationException: Unable to create a source for reading table 'default_catalog.default_database.events'.\n\n"
            + "Table options are:\n\n" + string.Join("\n", options) + "\n"
            + "\tat org.apache.flink.table.factories.FactoryUtil.createDynamicTableSource(FactoryUtil.java:228)\n\nEnd of exception on server side>";
    }

    private static IResult Error(int status, params string[] errors) =>
        Results.Content(new JsonObject { ["errors"] = new JsonArray([.. errors.Select(e => (JsonNode)e)]) }.ToJsonString(), "application/json", statusCode: status);

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
