using CtrPipeline.Contracts;
using Grpc.Core;

namespace SparkDriver;

/// <summary>
/// The Spark engine's life: wait for the Spark Connect server, start the CTR streaming query, poll its status and
/// progress (exported as metrics) until the process stops, then stop the query. A query that Spark refuses or that
/// stops on its own ends the run with Spark's own message.
/// </summary>
public sealed class SparkQueryRunner(SparkOptions options, PipelineSettings pipeline, SparkConnectClient spark, SparkMetrics metrics, ILogger logger)
{
    public async Task RunAsync(CancellationToken stop)
    {
        var version = await logger.UntilAvailableAsync("Spark Connect", spark.GetSparkVersionAsync,
            e => e is SparkUnreachableException, options.StartupTimeout, stop);
        logger.LogInformation("Spark {Version} over Spark Connect at {Address}", version, spark.Address);

        var start = CtrQueryPlan.StartCommand(pipeline, options);
        logger.LogInformation("Spark Connect plan: {Plan}", CtrQueryPlan.Json(start, options));
        StreamingQueryHandle query;
        try
        {
            query = await spark.StartAsync(start, stop);
        }
        catch (SparkException e) when (options.KafkaClient.Mask(e.Message) != e.Message)
        {
            // Spark's analysis errors may quote the plan's options.
            throw new SparkException(options.KafkaClient.Mask(e.Message));
        }
        logger.LogInformation("Streaming query {Name} started (id {Id}, run {RunId}): {Window} tumbling windows, watermark {Watermark}, trigger {Trigger}, output mode {Mode}",
            query.Name, query.Id, query.RunId, pipeline.WindowSize, pipeline.WatermarkDelay, pipeline.TriggerInterval, options.OutputMode);
        logger.LogInformation(Engines.ReadyTemplate, Engines.Spark, $"streaming query {query.Name} started");
        try
        {
            await FollowAsync(query, stop);
        }
        finally
        {
            if (stop.IsCancellationRequested) await StopQueryAsync(query);
        }
    }

    private async Task FollowAsync(StreamingQueryHandle query, CancellationToken stop)
    {
        long lastBatch = -1;
        using var timer = new PeriodicTimer(options.PollInterval);
        try
        {
            do
            {
                try
                {
                    var status = (await spark.CommandAsync(query, c => c.Status = true, stop)).Status;
                    if (status is { IsActive: false })
                    {
                        metrics.Update(active: false, progress: null);
                        var failure = (await spark.CommandAsync(query, c => c.Exception = true, stop)).Exception;
                        throw new SparkException($"The streaming query {query.Name} stopped: "
                            + options.KafkaClient.Mask(failure?.HasExceptionMessage == true ? failure.ExceptionMessage : status.StatusMessage));
                    }
                    var reports = (await spark.CommandAsync(query, c => c.LastProgress = true, stop)).RecentProgress?.RecentProgressJson;
                    SparkProgress? progress = null;
                    foreach (var report in reports ?? [])
                    {
                        progress = SparkProgress.Parse(report);
                        if (progress.BatchId <= lastBatch) continue;
                        metrics.AddDroppedByWatermark(progress.RowsDroppedByWatermark);
                        logger.LogDebug("Batch {Batch}: {Input:0} rows/s in, {Processed:0} rows/s processed, {Duration} ms, watermark {Watermark:o}, {Dropped} late rows dropped",
                            progress.BatchId, progress.InputRowsPerSecond, progress.ProcessedRowsPerSecond, progress.BatchDurationMs, progress.Watermark,
                            progress.RowsDroppedByWatermark);
                        lastBatch = progress.BatchId;
                    }
                    metrics.Update(active: true, progress);
                }
                catch (SparkUnreachableException e)
                {
                    logger.LogWarning("Cannot read the streaming query's status: {Reason}", e.Message);
                }
            }
            while (await timer.NextTickAsync(stop));
        }
        catch (Exception e) when (stop.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            // Stopped, possibly in the middle of a poll: RunAsync stops the query.
        }
    }

    private async Task StopQueryAsync(StreamingQueryHandle query)
    {
        using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await spark.CommandAsync(query, c => c.Stop = true, cleanup.Token);
            logger.LogInformation("Streaming query {Name} stopped", query.Name);
        }
        catch (Exception e) when (e is SparkException or OperationCanceledException)
        {
            logger.LogWarning("Could not stop streaming query {Name} ({Id}); stop it in the Spark UI: {Reason}", query.Name, query.Id, e.Message);
        }
    }
}
