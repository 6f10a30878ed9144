using System.Text.Json.Nodes;
using CtrPipeline.Contracts;

namespace FlinkGateway;

/// <summary>
/// The Flink engine's life: wait for the SQL Gateway, submit the CTR job statement by statement, resuming from the
/// savepoint of the last job of its name, follow it through the JobManager's REST API (state, records, back pressure)
/// until the process stops, then stop it with a savepoint and close the session. A job that fails or ends on its own
/// ends the run with Flink's own reason.
/// </summary>
/// <remarks>
/// Why savepoints: a new job started from the consumer group's committed offsets has empty windows, so the windows open
/// when the last job stopped would come out final with too few events (and, where the old job had already counted
/// part of them, twice). A savepoint carries the window state and the offsets together. Where the last job left none
/// (see <see cref="JobLedger"/>), the engine refuses to start rather than publish such windows.
/// </remarks>
public sealed class FlinkEngineRunner(
    FlinkOptions options, PipelineSettings pipeline, CampaignCatalog catalog, SqlGatewayClient gateway, FlinkRestClient? rest, FlinkMetrics metrics, ILogger logger)
{
    private static readonly string[] Ended = ["FAILED", "CANCELED", "FINISHED", "SUSPENDED"];

    /// <summary>Runs until <paramref name="stop"/>; throws <see cref="FlinkException"/> when Flink refuses or loses the job.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var version = await logger.UntilAvailableAsync("the Flink SQL Gateway", gateway.GetVersionAsync,
            e => e is FlinkUnreachableException, options.StartupTimeout, stop);
        logger.LogInformation("Flink {Version} SQL Gateway at {Gateway}", version, gateway.Address);

        var ledger = new JobLedger(options.SavepointStore, options.JobName);
        var session = await gateway.OpenSessionAsync(options.JobName, stop);
        string? jobId = null;
        try
        {
            jobId = await SubmitAsync(session, ledger, stop);
            await FollowAsync(session, jobId, stop);
        }
        finally
        {
            // Shutting down: the stop token is already cancelled, so the clean-up gets its own time (a savepoint too).
            using var cleanup = new CancellationTokenSource(StopTimeout);
            if (jobId is not null && stop.IsCancellationRequested) await StopJobAsync(session, jobId, ledger, cleanup.Token);
            try
            {
                await gateway.CloseSessionAsync(session, cleanup.Token);
            }
            catch (Exception e) when (e is FlinkException or OperationCanceledException)
            {
                logger.LogWarning("Could not close the SQL Gateway session: {Reason}", e.Message);
            }
        }
    }

    /// <summary>How long stopping the job may take, its savepoint included; the host gives the process as long (Program.cs).</summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(90);

    private async Task<string> SubmitAsync(string session, JobLedger ledger, CancellationToken stop)
    {
        var statements = FlinkSqlJob.Statements(pipeline, options, catalog);
        // Settings and tables first: they only configure the session, and STOP JOB ... WITH SAVEPOINT writes to the
        // savepoint directory they set.
        foreach (var statement in statements.SkipLast(1)) await ExecuteAsync(session, statement, stop);
        if (await ResumePointAsync(session, ledger, stop) is { } savepoint)
        {
            logger.LogInformation("Flink job {Name} resumes from savepoint {Savepoint}", options.JobName, savepoint);
            await ExecuteAsync(session, FlinkSqlJob.ResumeFrom(savepoint), stop);
        }
        var jobId = (await ExecuteAsync(session, statements[^1], stop)).JobId
            ?? throw new FlinkException("The job's statement finished, but the SQL Gateway named no job.");
        ledger.Running(jobId);
        logger.LogInformation("Flink job {JobId} ({Name}) submitted: {Window} tumbling windows, watermark {Watermark} behind, parallelism {Parallelism}",
            jobId, options.JobName, pipeline.WindowSize, pipeline.WatermarkDelay, options.EffectiveParallelism(pipeline));
        return jobId;
    }

    /// <summary>Runs a statement; its log line and any error about it (which may quote it) show no Kafka secret.</summary>
    private async Task<StatementResult> ExecuteAsync(string session, string statement, CancellationToken stop)
    {
        logger.LogInformation("Flink SQL: {Statement}", FlinkSqlJob.Mask(statement, options));
        try
        {
            return await gateway.ExecuteAsync(session, statement, stop);
        }
        catch (FlinkStatementException e)
        {
            throw new FlinkStatementException(FlinkSqlJob.Mask(e.Statement, options), FlinkSqlJob.Mask(e.FlinkError, options));
        }
    }

    /// <summary>
    /// The savepoint the new job starts from: a job of this name an earlier run left running is stopped with one first;
    /// else the one the last job was stopped with; none on a first start. Throws when the last job left none.
    /// </summary>
    private async Task<string?> ResumePointAsync(string session, JobLedger ledger, CancellationToken stop)
    {
        if (rest is not null)
        {
            foreach (var job in await rest.ListJobsAsync(stop))
            {
                if (job.Name != options.JobName || job.State is not ("RUNNING" or "CREATED" or "RESTARTING" or "INITIALIZING")) continue;
                logger.LogWarning("Stopping Flink job {JobId} ({Name}, {State}), left running by an earlier run, with a savepoint", job.Id, job.Name, job.State);
                if (await TryStopWithSavepointAsync(session, job.Id, ledger, stop) is null) await rest.CancelAsync(job.Id, stop);
            }
        }
        var last = ledger.Read();
        if (last?.RunningJobId is { } lost)
            throw new FlinkException(
                $"The last Flink job of this name, {lost} ({options.JobName}), left no savepoint ({ledger.FilePath}). Its window state is lost: a new job " +
                $"would start from consumer group {options.GroupId}'s committed offsets with empty windows, and the windows open when it stopped would " +
                $"come out final with too few events, or twice. Start a run on fresh topics (Parameters:topic-prefix) or with a new Flink:GroupId; " +
                $"to accept such windows, delete {ledger.FilePath}.");
        return last?.SavepointPath;
    }

    /// <summary>STOP JOB ... WITH SAVEPOINT through the gateway; the savepoint's path goes to the ledger. Null when Flink took none.</summary>
    private async Task<string?> TryStopWithSavepointAsync(string session, string jobId, JobLedger ledger, CancellationToken cancel)
    {
        try
        {
            var result = await ExecuteAsync(session, FlinkSqlJob.StopWithSavepoint(jobId), cancel);
            if (result.Rows is [[JsonValue value, ..], ..] && value.TryGetValue<string>(out var path) && path.Length > 0)
            {
                ledger.Savepoint(path);
                logger.LogInformation("Flink job {JobId} stopped with savepoint {Savepoint}", jobId, path);
                return path;
            }
            logger.LogWarning("Flink stopped job {JobId} but named no savepoint", jobId);
        }
        catch (FlinkException e)
        {
            logger.LogWarning("Could not stop Flink job {JobId} with a savepoint: {Reason}", jobId, e.Message);
        }
        return null;
    }

    /// <summary>
    /// Until the process stops, every poll interval: a heartbeat keeps the gateway session alive (the gateway closes a
    /// session idle for sql-gateway.session.idle-timeout, 10 minutes by default, and the session is what stops the job
    /// when there is no JobManager address), and the job's state and metrics are read when the JobManager is known.
    /// </summary>
    private async Task FollowAsync(string session, string jobId, CancellationToken stop)
    {
        if (rest is null)
        {
            logger.LogInformation("No JobManager REST address (ConnectionStrings:flink-rest): the job's state and metrics are not followed");
            logger.LogInformation(Engines.ReadyTemplate, Engines.Flink, $"job {jobId} submitted (its state is not followed)");
        }

        var state = "";
        using var timer = new PeriodicTimer(options.PollInterval);
        try
        {
            do
            {
                await HeartbeatAsync(session, stop);
                if (rest is null) continue;
                FlinkJobDetails job;
                try
                {
                    job = await rest.GetJobAsync(jobId, stop);
                }
                catch (FlinkException e)
                {
                    logger.LogWarning("Cannot read the state of Flink job {JobId}: {Reason}", jobId, e.Message);
                    continue;
                }
                if (job.State != state)
                {
                    logger.LogInformation("Flink job {JobId} is {State}", jobId, job.State);
                    if (job.State == "RUNNING") logger.LogInformation(Engines.ReadyTemplate, Engines.Flink, $"job {jobId} is RUNNING");
                    state = job.State;
                }
                metrics.Update(job, await BackPressureAsync(rest, job, stop));
                if (Ended.Contains(job.State))
                {
                    var reason = job.State == "FAILED" ? await RootExceptionAsync(rest, jobId, stop) : null;
                    throw new FlinkException($"The Flink job {jobId} ended as {job.State}{(reason is null ? "" : $": {FlinkSqlJob.Mask(reason, options)}")}");
                }
            }
            while (await timer.NextTickAsync(stop));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped: RunAsync stops the job with a savepoint and closes the session.
        }
    }

    /// <summary>A missed heartbeat is retried on the next poll; the session lives minutes without one.</summary>
    private async Task HeartbeatAsync(string session, CancellationToken stop)
    {
        try
        {
            await gateway.HeartbeatAsync(session, stop);
        }
        catch (FlinkException e)
        {
            logger.LogWarning("SQL Gateway session heartbeat failed: {Reason}", e.Message);
        }
    }

    private async Task<IReadOnlyDictionary<string, FlinkBackPressure>> BackPressureAsync(FlinkRestClient jobManager, FlinkJobDetails job, CancellationToken stop)
    {
        var levels = new Dictionary<string, FlinkBackPressure>();
        if (job.State != "RUNNING") return levels;
        foreach (var vertex in job.Vertices)
        {
            try
            {
                if (await jobManager.GetBackPressureAsync(job.Id, vertex.Id, stop) is { } level) levels[vertex.Id] = level;
            }
            catch (FlinkException e)
            {
                logger.LogDebug("No back pressure for vertex {Vertex}: {Reason}", vertex.Name, e.Message);
            }
        }
        return levels;
    }

    private static async Task<string?> RootExceptionAsync(FlinkRestClient jobManager, string jobId, CancellationToken stop)
    {
        try
        {
            return await jobManager.GetRootExceptionAsync(jobId, stop);
        }
        catch (FlinkException)
        {
            return null;
        }
    }

    /// <summary>
    /// Stops the job with a savepoint; failing that, cancels it. The ledger then still names the job as running without
    /// a savepoint, so the next start will not resubmit over its committed offsets.
    /// </summary>
    private async Task StopJobAsync(string session, string jobId, JobLedger ledger, CancellationToken cancel)
    {
        try
        {
            if (await TryStopWithSavepointAsync(session, jobId, ledger, cancel) is not null) return;
            if (rest is not null) await rest.CancelAsync(jobId, cancel);
            else await ExecuteAsync(session, $"STOP JOB {FlinkSqlJob.Literal(jobId)}", cancel);
            logger.LogWarning("Flink job {JobId} cancelled without a savepoint", jobId);
        }
        catch (Exception e) when (e is FlinkException or OperationCanceledException)
        {
            logger.LogWarning("Could not stop Flink job {JobId}; stop it in the Flink UI or with `flink stop {JobId}`: {Reason}", jobId, jobId, e.Message);
        }
    }
}
