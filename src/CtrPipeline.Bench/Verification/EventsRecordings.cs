namespace CtrPipeline.Bench.Verification;

/// <summary>Chooses how the oracle reads a run's events (<see cref="EventsRead"/>), before the load, and starts it.</summary>
internal static class EventsRecordings
{
    public static async Task<IEventsRecording> StartAsync(EventsRead read, RunTopics kafka, ExperimentSettings settings, string workFolder)
    {
        if (read == EventsRead.Live) return LiveEventsTap.Start(kafka, workFolder, "--oracle-read live");
        if (read == EventsRead.AfterLoad) return new AfterLoadEventsRead(kafka, "--oracle-read after-load");
        if (kafka.Embedded)
            return LiveEventsTap.Start(kafka, workFolder, "librdkafka's mock cluster keeps the newest 5 MiB of a partition and cannot report a retention");
        var verdict = await RunRetention.CheckAsync(kafka, kafka.Pipeline.Topics.Events,
            RunRetention.PlannedBytesPerPartition(settings.Producer.Rate, settings.Duration, kafka.Pipeline.Partitions),
            RunRetention.KeptFor(settings.Duration, settings.CatchUpTimeout));
        return verdict.Keeps ? new AfterLoadEventsRead(kafka, verdict.Reason) : LiveEventsTap.Start(kafka, workFolder, verdict.Reason);
    }
}
