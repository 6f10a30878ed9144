using CtrPipeline.Contracts;

namespace FlinkGateway;

/// <summary>
/// The Flink engine's life: wait for the SQL Gateway, cancel a job of the same name left by an earlier run, submit the
/// CTR job statement by statement, follow it through the JobManager's REST API (state, records, back pressure) until
/// the process stops, then cancel it and close the session. A job that fails or ends on its own ends the run with
/// Flink's own reason.
/// </summary>
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
        if (rest is not null) await CancelLeftoverJobsAsync(rest, stop);

        var session = await gateway.OpenSessionAsync(options.JobName, stop);
        string? jobId = null;
        try
        {
            jobId = await SubmitAsync(session, stop);
            await FollowAsync(session, jobId, stop);
        }
        finally
        {
            // Shutting down: the stop token is already cancelled, so the clean-up gets its own time.
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            if (jobId is not null && stop.IsCancellationRequested) await CancelJobAsync(session, jobId, cleanup.Token);
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

    private async Task CancelLeftoverJobsAsync(FlinkRestClient jobManager, CancellationToken stop)
    {
        foreach (var job in await jobManager.ListJobsAsync(stop))
        {
            if (job.Name != options.JobName || job.State is not ("RUNNING" or "CREATED" or "RESTARTING" or "INITIALIZING")) continue;
            logger.LogWarning("Cancelling Flink job {JobId} ({Name}, {State}), left running by an earlier run", job.Id, job.Name, job.State);
            await jobManager.CancelAsync(job.Id, stop);
        }
    }

    private async Task<string> SubmitAsync(string session, CancellationToken stop)
    {
        StatementResult? last = null;
        foreach (var statement in FlinkSqlJob.Statements(pipeline, options, catalog))
        {
            logger.LogInformation("Flink SQL: {Statement}", statement);
            last = await gateway.ExecuteAsync(session, statement, stop);
        }
        var jobId = last?.JobId ?? throw new FlinkException("The INSERT statement finished, but the SQL Gateway named no job.");
        logger.LogInformation("Flink job {JobId} ({Name}) submitted: {Window} tumbling windows, watermark {Watermark} behind, parallelism {Parallelism}",
            jobId, options.JobName, pipeline.WindowSize, pipeline.WatermarkDelay, options.EffectiveParallelism(pipeline));
        return jobId;
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
                    throw new FlinkException($"The Flink job {jobId} ended as {job.State}{(reason is null ? "" : $": {reason}")}");
                }
            }
            while (await timer.NextTickAsync(stop));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped: RunAsync cancels the job and closes the session.
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

    private async Task CancelJobAsync(string session, string jobId, CancellationToken cancel)
    {
        try
        {
            if (rest is not null) await rest.CancelAsync(jobId, cancel);
            else await gateway.ExecuteAsync(session, $"STOP JOB {FlinkSqlJob.Literal(jobId)}", cancel);
            logger.LogInformation("Flink job {JobId} cancelled", jobId);
        }
        catch (Exception e) when (e is FlinkException or OperationCanceledException)
        {
            logger.LogWarning("Could not cancel Flink job {JobId}; cancel it in the Flink UI or with `flink cancel {JobId}`: {Reason}", jobId, jobId, e.Message);
        }
    }
}
