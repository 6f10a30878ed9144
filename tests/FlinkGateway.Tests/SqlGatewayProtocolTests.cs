using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;
using Xunit.Abstractions;

namespace FlinkGateway.Tests;

/// <summary>
/// The engine's REST clients and its life cycle against <see cref="DocumentedFlinkRestServer"/>, a local HTTP server
/// answering as the documented SQL Gateway and JobManager REST APIs do (this machine has no Flink).
/// </summary>
public sealed class SqlGatewayProtocolTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private static FlinkOptions Options(Uri gateway, Uri? rest, params (string Name, string Value)[] kafkaProperties) => new FlinkOptions
    {
        GatewayUrl = gateway.ToString(),
        RestUrl = rest?.ToString() ?? "",
        KafkaBootstrapServers = "kafka:9093",
        PollInterval = TimeSpan.FromMilliseconds(50),
        StartupTimeout = TimeSpan.FromSeconds(2),
        SavepointStore = Path.Combine(Path.GetTempPath(), "ctr-flink-tests", Guid.NewGuid().ToString("N")),
    }.Resolve(new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(
        kafkaProperties.Select(p => KeyValuePair.Create($"Kafka:Properties:{p.Name}", (string?)p.Value))).Build(), new PipelineSettings());

    /// <summary>SASL PLAIN with a password and JAAS config that must never show: quotes in it, as users' passwords have.</summary>
    private static readonly (string, string)[] SaslPlain =
        [("security.protocol", "SASL_SSL"), ("sasl.mechanisms", "PLAIN"), ("sasl.username", "ctr"), ("sasl.password", "n0t-'shown'")];

    /// <summary>The engine as Program.cs wires it, with its HTTP clients and meter disposed together.</summary>
    private sealed class Engine : IDisposable
    {
        private readonly HttpClient _gateway;
        private readonly HttpClient? _rest;
        private readonly FlinkMetrics _metrics = new();

        public Engine(FlinkOptions options, ITestOutputHelper output)
        {
            _gateway = FlinkClients.Http(options.GatewayUrl);
            _rest = options.RestUrl.Length > 0 ? FlinkClients.Http(options.RestUrl) : null;
            _logger = new TestOutputLogger(output);
            Runner = new FlinkEngineRunner(options, new PipelineSettings(), FlinkSqlJobTests.Catalog, new SqlGatewayClient(_gateway, options.StartupTimeout),
                _rest is null ? null : new FlinkRestClient(_rest), _metrics, _logger);
        }

        private readonly TestOutputLogger _logger;

        public FlinkEngineRunner Runner { get; }

        public IReadOnlyList<string> Log => _logger.Lines;

        public void Dispose()
        {
            _gateway.Dispose();
            _rest?.Dispose();
            _metrics.Dispose();
        }
    }

    [Fact]
    public async Task Against_the_documented_gateway_api_the_job_is_submitted_followed_exported_and_stopped_with_a_savepoint()
    {
        await using var flink = await DocumentedFlinkRestServer.StartAsync(DocumentedFlinkRestServer.Configure(withLeftoverJob: true));
        var options = Options(flink.Address, flink.Address);
        using var listener = new MetricCapture();
        using var engine = new Engine(options, output);
        var runner = engine.Runner;

        using var stop = new CancellationTokenSource();
        var run = runner.RunAsync(stop.Token);
        while (flink.JobPolls < 3 && !run.IsCompleted) await Task.Delay(20).WaitAsync(Limit);
        listener.Collect();
        await stop.CancelAsync();
        await run.WaitAsync(Limit);

        // Every statement of the job, in order, in one session named after the job, which is closed at the end. The job
        // an earlier run left RUNNING is stopped with a savepoint before the job is submitted, and the job resumes from
        // it; ours is stopped with a savepoint on stop, and that savepoint is kept for the next start. Nothing is cancelled.
        var job = FlinkSqlJob.Statements(new PipelineSettings(), options, FlinkSqlJobTests.Catalog);
        var leftoverSavepoint = DocumentedFlinkRestServer.SavepointOf(DocumentedFlinkRestServer.LeftoverJobId);
        var savepoint = DocumentedFlinkRestServer.SavepointOf(DocumentedFlinkRestServer.JobId);
        Assert.Equal([
            .. job.SkipLast(1),
            $"STOP JOB '{DocumentedFlinkRestServer.LeftoverJobId}' WITH SAVEPOINT",
            $"SET 'execution.savepoint.path' = '{leftoverSavepoint}'",
            job[^1],
            $"STOP JOB '{DocumentedFlinkRestServer.JobId}' WITH SAVEPOINT",
        ], flink.Statements);
        Assert.Equal(["ctr-pipeline"], flink.SessionNames);
        Assert.Single(flink.ClosedSessions);
        Assert.Empty(flink.CancelledJobs);
        Assert.Equal([leftoverSavepoint, savepoint], flink.StoppedWithSavepoint);
        Assert.Equal(new LastJob(savepoint, null), new JobLedger(options.SavepointStore, options.JobName).Read());
        Assert.Contains("GET /v2/sessions/", string.Join("\n", flink.Requests.Where(r => r.Contains("/result/0?rowFormat=JSON"))));

        // Flink's own counters, exported under the vertex names Flink gives.
        Assert.Equal(1, listener.Last("ctr.flink.job.running"));
        Assert.True(listener.Last("ctr.flink.vertex.records_out", "Source: events[1] -> Calc[2] -> WatermarkAssigner[3]") >= 1000);
        Assert.True(listener.Last("ctr.flink.vertex.records_in", "WindowAggregate[5] -> Calc[6] -> Sink: ctr_results[7]") >= 1000);
        Assert.Equal(0.25, listener.Last("ctr.flink.vertex.backpressure", "Source: events[1] -> Calc[2] -> WatermarkAssigner[3]"));

        // Readiness, as the benchmark's services host waits for it: once, when the job runs.
        Assert.Single(engine.Log, line => line.StartsWith(Engines.ReadyPrefix(Engines.Flink) + $"job {DocumentedFlinkRestServer.JobId} is RUNNING", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_statement_ends_with_flinks_error_text_and_the_statement_not_a_stack_trace()
    {
        await using var flink = await DocumentedFlinkRestServer.StartAsync(DocumentedFlinkRestServer.Configure(failStatementsContaining: "CREATE TEMPORARY TABLE `events`"));
        var options = Options(flink.Address, flink.Address);
        using var engine = new Engine(options, output);
        var runner = engine.Runner;

        var e = await Assert.ThrowsAsync<FlinkStatementException>(() => runner.RunAsync(CancellationToken.None).WaitAsync(Limit));

        output.WriteLine(e.Message);
        Assert.StartsWith("Flink rejected a statement: ValidationException: Could not find any factory for identifier 'kafka'", e.Message);
        Assert.Contains("CREATE TEMPORARY TABLE `events` (", e.Message);
        Assert.StartsWith("CREATE TEMPORARY TABLE `events`", e.Statement);
        Assert.DoesNotContain("\tat ", e.Message);
        Assert.DoesNotContain(".java:", e.Message);
        // Nothing after the failed statement was sent, no job was started or cancelled, and the session was closed.
        Assert.EndsWith("CREATE TEMPORARY TABLE `events`", string.Join("|", flink.Statements.Select(s => s.Split(" (")[0])));
        Assert.Empty(flink.CancelledJobs);
        Assert.Single(flink.ClosedSessions);
    }

    [Fact]
    public async Task Kafka_secrets_reach_the_gateway_but_never_the_log()
    {
        await using var flink = await DocumentedFlinkRestServer.StartAsync(DocumentedFlinkRestServer.Configure());
        var options = Options(flink.Address, flink.Address, SaslPlain);
        using var engine = new Engine(options, output);

        using var stop = new CancellationTokenSource();
        var run = engine.Runner.RunAsync(stop.Token);
        while (flink.JobPolls < 1 && !run.IsCompleted) await Task.Delay(20).WaitAsync(Limit);
        await stop.CancelAsync();
        await run.WaitAsync(Limit);

        const string jaas = "'properties.sasl.jaas.config' = 'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.plain.PlainLoginModule required username=\"ctr\" password=\"n0t-''shown''\";'";
        Assert.Equal(3, flink.Statements.Count(s => s.Contains(jaas)));
        var statementLines = engine.Log.Where(l => l.StartsWith("Flink SQL: CREATE TEMPORARY TABLE", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, statementLines.Count);
        Assert.All(statementLines, l => Assert.Contains("'properties.sasl.jaas.config' = '***'", l));
        Assert.All(engine.Log, l => Assert.DoesNotContain("n0t-", l));
        Assert.All(engine.Log, l => Assert.DoesNotContain("LoginModule", l));
    }

    [Fact]
    public async Task A_failing_statement_and_flinks_error_quoting_its_options_show_no_kafka_secret()
    {
        await using var flink = await DocumentedFlinkRestServer.StartAsync(
            DocumentedFlinkRestServer.Configure(failStatementsContaining: "CREATE TEMPORARY TABLE `events`", errorsListTableOptions: true));
        var options = Options(flink.Address, flink.Address, SaslPlain);
        using var engine = new Engine(options, output);

        var e = await Assert.ThrowsAsync<FlinkStatementException>(() => engine.Runner.RunAsync(CancellationToken.None).WaitAsync(Limit));

        output.WriteLine(e.Message);
        // Flink's error lists the options as they are ('n0t-'shown''), the statement quotes them as a SQL literal does.
        Assert.Contains("n0t-'shown'", flink.Statements.Single(s => s.StartsWith("CREATE TEMPORARY TABLE `events`", StringComparison.Ordinal)).Replace("''", "'"));
        Assert.StartsWith("Flink rejected a statement: ValidationException: Unable to create a source for reading table 'default_catalog.default_database.events'.", e.Message);
        Assert.Contains("'properties.sasl.jaas.config'='***'", e.FlinkError);
        Assert.Contains("'properties.sasl.jaas.config' = '***'", e.Statement);
        Assert.Contains("'properties.sasl.mechanism'='PLAIN'", e.Message);
        Assert.DoesNotContain("n0t-", e.Message);
        Assert.DoesNotContain("LoginModule", e.Message);
        Assert.All(engine.Log, l => Assert.DoesNotContain("n0t-", l));
    }

    [Fact]
    public async Task An_unreachable_gateway_ends_with_an_error_naming_its_address_after_the_startup_timeout()
    {
        var port = FreePort();
        var options = Options(new Uri($"http://127.0.0.1:{port}/"), null);
        using var engine = new Engine(options, output);
        var runner = engine.Runner;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<FlinkUnreachableException>(() => runner.RunAsync(CancellationToken.None).WaitAsync(Limit));

        Assert.StartsWith($"Cannot reach the Flink SQL Gateway at http://127.0.0.1:{port}/:", e.Message);
        Assert.InRange(clock.Elapsed, options.StartupTimeout, Limit); // it kept trying while the gateway might be starting
    }

    [Fact]
    public async Task A_job_that_fails_in_flink_ends_the_run_with_flinks_root_exception()
    {
        await using var flink = await DocumentedFlinkRestServer.StartAsync(DocumentedFlinkRestServer.Configure(jobStateChange: (3, "FAILED")));
        var options = Options(flink.Address, flink.Address);
        using var engine = new Engine(options, output);
        var runner = engine.Runner;

        var e = await Assert.ThrowsAsync<FlinkException>(() => runner.RunAsync(CancellationToken.None).WaitAsync(Limit));

        Assert.Equal($"The Flink job {DocumentedFlinkRestServer.JobId} ended as FAILED: TimeoutException: Topic events not present in metadata after 60000 ms.", e.Message);
        Assert.Empty(flink.CancelledJobs); // it is not running any more
        Assert.Single(flink.ClosedSessions);
    }

    [Fact]
    public async Task Without_the_jobmanager_address_the_job_is_stopped_through_the_gateway()
    {
        await using var flink = await DocumentedFlinkRestServer.StartAsync(DocumentedFlinkRestServer.Configure());
        var options = Options(flink.Address, rest: null);
        using var engine = new Engine(options, output);
        var runner = engine.Runner;

        using var stop = new CancellationTokenSource();
        var run = runner.RunAsync(stop.Token);
        while (!flink.Statements.Any(s => s.StartsWith("EXECUTE STATEMENT SET", StringComparison.Ordinal))) await Task.Delay(20).WaitAsync(Limit);
        await Task.Delay(200);
        await stop.CancelAsync();
        await run.WaitAsync(Limit);

        Assert.Equal($"STOP JOB '{DocumentedFlinkRestServer.JobId}' WITH SAVEPOINT", flink.Statements.Last());
        Assert.DoesNotContain(flink.Requests, r => r.StartsWith("GET /jobs", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_gateway_session_left_without_requests_expires_as_flinks_does()
    {
        await using var flink = await DocumentedFlinkRestServer.StartAsync(DocumentedFlinkRestServer.Configure(sessionIdleTimeout: TimeSpan.FromMilliseconds(200)));
        using var http = FlinkClients.Http(flink.Address.ToString());
        var gateway = new SqlGatewayClient(http, TimeSpan.FromSeconds(5));

        var session = await gateway.OpenSessionAsync("idle", CancellationToken.None);
        await Task.Delay(600);

        var error = await Assert.ThrowsAnyAsync<FlinkException>(() => gateway.CloseSessionAsync(session, CancellationToken.None));
        Assert.Contains($"Session '{session}' does not exist", error.Message);
        Assert.Equal([session], flink.ExpiredSessions);
    }

    [Fact]
    public async Task Heartbeats_keep_the_session_alive_past_the_gateways_idle_timeout_so_the_job_can_still_be_stopped()
    {
        // The job outlives the gateway's idle timeout several times over, with no JobManager address: only the session
        // can stop the job, and nothing but the heartbeat talks to the gateway after the INSERT.
        // Generous enough for a busy machine between two requests of the submission; the heartbeats come every 50 ms.
        var idle = TimeSpan.FromSeconds(2);
        await using var flink = await DocumentedFlinkRestServer.StartAsync(DocumentedFlinkRestServer.Configure(sessionIdleTimeout: idle));
        var options = Options(flink.Address, rest: null);
        using var engine = new Engine(options, output);

        using var stop = new CancellationTokenSource();
        var run = engine.Runner.RunAsync(stop.Token);
        var submitted = Stopwatch.StartNew();
        while (!flink.Statements.Any(s => s.StartsWith("EXECUTE STATEMENT SET", StringComparison.Ordinal)))
        {
            if (run.IsCompleted) await run; // a failed submission ends the test with its error instead of waiting forever
            Assert.True(submitted.Elapsed < Limit, "the job was not submitted");
            await Task.Delay(20);
        }
        await Task.Delay(idle * 4);
        await stop.CancelAsync();
        await run.WaitAsync(Limit);

        Assert.Empty(flink.ExpiredSessions);
        Assert.True(flink.Heartbeats.Count >= 4, $"{flink.Heartbeats.Count} heartbeats in {idle * 4}");
        Assert.Equal($"STOP JOB '{DocumentedFlinkRestServer.JobId}' WITH SAVEPOINT", flink.Statements.Last());
        Assert.Single(flink.ClosedSessions);
    }

    [Fact]
    public async Task A_restarted_engine_resumes_its_job_from_the_savepoint_the_last_one_was_stopped_with()
    {
        await using var flink = await DocumentedFlinkRestServer.StartAsync(DocumentedFlinkRestServer.Configure());
        var options = Options(flink.Address, flink.Address);

        for (var start = 0; start < 2; start++)
        {
            using var engine = new Engine(options, output);
            using var stop = new CancellationTokenSource();
            var run = engine.Runner.RunAsync(stop.Token);
            while (flink.JobPolls < 2 * (start + 1) && !run.IsCompleted) await Task.Delay(20).WaitAsync(Limit);
            await stop.CancelAsync();
            await run.WaitAsync(Limit);
        }

        var savepoint = DocumentedFlinkRestServer.SavepointOf(DocumentedFlinkRestServer.JobId);
        var statements = flink.Statements.ToList();
        var jobs = statements.Select((s, i) => (s, i)).Where(x => x.s.StartsWith("EXECUTE STATEMENT SET", StringComparison.Ordinal)).Select(x => x.i).ToList();
        Assert.Equal(2, jobs.Count);
        Assert.DoesNotContain(statements.Take(jobs[0]), s => s.Contains("execution.savepoint.path")); // the first start has nothing to resume
        Assert.Equal($"SET 'execution.savepoint.path' = '{savepoint}'", statements[jobs[1] - 1]);
        Assert.Equal(2, flink.StoppedWithSavepoint.Count);
        Assert.Empty(flink.CancelledJobs);
    }

    [Fact]
    public async Task A_last_job_that_left_no_savepoint_is_not_resubmitted_over_its_committed_offsets()
    {
        await using var flink = await DocumentedFlinkRestServer.StartAsync(DocumentedFlinkRestServer.Configure());
        var options = Options(flink.Address, flink.Address);
        var ledger = new JobLedger(options.SavepointStore, options.JobName);
        ledger.Running("00000000000000000000000000000042"); // submitted by an earlier run, then lost without a savepoint
        using var engine = new Engine(options, output);

        var e = await Assert.ThrowsAsync<FlinkException>(() => engine.Runner.RunAsync(CancellationToken.None).WaitAsync(Limit));

        Assert.StartsWith("The last Flink job of this name, 00000000000000000000000000000042 (ctr-pipeline), left no savepoint", e.Message);
        Assert.Contains("consumer group ctr-flink's committed offsets with empty windows", e.Message);
        Assert.DoesNotContain(flink.Statements, s => s.StartsWith("EXECUTE STATEMENT SET", StringComparison.Ordinal));
        Assert.Single(flink.ClosedSessions);
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    /// <summary>Every measurement of the Flink meter's instruments, by instrument and vertex.</summary>
    private sealed class MetricCapture : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<(string Instrument, string? Vertex, double Value)> _values = [];

        public MetricCapture()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == PipelineTelemetry.FlinkMeter) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
            _listener.Start();
        }

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? vertex = null;
            foreach (var tag in tags) if (tag.Key == "vertex") vertex = (string?)tag.Value;
            lock (_values) _values.Add((instrument.Name, vertex, value));
        }

        public void Collect() => _listener.RecordObservableInstruments();

        public double Last(string instrument, string? vertex = null)
        {
            lock (_values) return _values.Last(v => v.Instrument == instrument && v.Vertex == vertex).Value;
        }

        public void Dispose() => _listener.Dispose();
    }
}
