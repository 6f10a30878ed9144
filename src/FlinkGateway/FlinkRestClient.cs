using System.Text.Json.Nodes;

namespace FlinkGateway;

public sealed record FlinkJobSummary(string Id, string Name, string State);

/// <summary>One operator chain of a running job, with the record counters Flink keeps for it.</summary>
public sealed record FlinkVertex(string Id, string Name, int Parallelism, long RecordsIn, long RecordsOut);

public sealed record FlinkJobDetails(string Id, string Name, string State, IReadOnlyList<FlinkVertex> Vertices);

/// <summary>Back pressure of one vertex: Flink's level (ok, low, high) and the highest ratio over its subtasks, 0..1.</summary>
public sealed record FlinkBackPressure(string Level, double MaxRatio);

/// <summary>
/// The part of the JobManager's REST API (port 8081) the job needs: list jobs, a job's state and vertex metrics, a
/// vertex's back pressure, the root exception of a failed job, and cancel.
/// </summary>
public sealed class FlinkRestClient(HttpClient http)
{
    private const string What = "Flink JobManager REST API";

    public Uri Address => http.BaseAddress ?? throw new InvalidOperationException("The HttpClient needs a BaseAddress.");

    /// <summary>GET /jobs/overview.</summary>
    public async Task<IReadOnlyList<FlinkJobSummary>> ListJobsAsync(CancellationToken cancel)
    {
        var body = await GetAsync("jobs/overview", cancel);
        return [.. (body?["jobs"]?.AsArray() ?? []).Select(job => new FlinkJobSummary(
            Text(job, "jid"), Text(job, "name"), Text(job, "state")))];
    }

    /// <summary>GET /jobs/{id}: state and, per vertex, records read from and written to the network.</summary>
    public async Task<FlinkJobDetails> GetJobAsync(string jobId, CancellationToken cancel)
    {
        var job = await GetAsync($"jobs/{jobId}", cancel);
        var vertices = (job?["vertices"]?.AsArray() ?? []).Select(vertex => new FlinkVertex(
            Text(vertex, "id"),
            Text(vertex, "name"),
            vertex?["parallelism"]?.GetValue<int>() ?? 0,
            vertex?["metrics"]?["read-records"]?.GetValue<long>() ?? 0,
            vertex?["metrics"]?["write-records"]?.GetValue<long>() ?? 0));
        return new FlinkJobDetails(Text(job, "jid"), Text(job, "name"), Text(job, "state"), [.. vertices]);
    }

    /// <summary>GET /jobs/{id}/vertices/{vertex}/backpressure; Flink samples on demand, so the first answer may be "deprecated" (no data yet).</summary>
    public async Task<FlinkBackPressure?> GetBackPressureAsync(string jobId, string vertexId, CancellationToken cancel)
    {
        var body = await GetAsync($"jobs/{jobId}/vertices/{vertexId}/backpressure", cancel);
        if (body?["status"]?.GetValue<string>() != "ok") return null;
        var level = (body["backpressure-level"] ?? body["backpressureLevel"])?.GetValue<string>() ?? "unknown";
        var ratios = (body["subtasks"]?.AsArray() ?? []).Select(s => s?["ratio"]?.GetValue<double>() ?? 0).DefaultIfEmpty(0);
        return new FlinkBackPressure(level, ratios.Max());
    }

    /// <summary>GET /jobs/{id}/exceptions: the first line of the root exception, if the job failed.</summary>
    public async Task<string?> GetRootExceptionAsync(string jobId, CancellationToken cancel)
    {
        var body = await GetAsync($"jobs/{jobId}/exceptions", cancel);
        var root = body?["root-exception"]?.GetValue<string>();
        return root is null ? null : FlinkErrorText.RootCause([root]);
    }

    /// <summary>PATCH /jobs/{id}?mode=cancel.</summary>
    public Task CancelAsync(string jobId, CancellationToken cancel) => SendAsync(HttpMethod.Patch, $"jobs/{jobId}?mode=cancel", cancel);

    private Task<JsonNode?> GetAsync(string path, CancellationToken cancel) => SendAsync(HttpMethod.Get, path, cancel);

    private async Task<JsonNode?> SendAsync(HttpMethod method, string path, CancellationToken cancel) =>
        (await FlinkHttp.SendAsync(http, What, method, path, null, cancel)).Require(method, path);

    private static string Text(JsonNode? node, string property) => node?[property]?.GetValue<string>() ?? "";
}
