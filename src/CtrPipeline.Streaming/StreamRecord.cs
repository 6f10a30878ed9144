using CtrPipeline.Contracts;

namespace CtrPipeline.Streaming;

/// <summary>An event as it came off the log: where it sits (partition, offset) and when Kafka stamped it.</summary>
public readonly record struct StreamRecord(AdEvent Event, int Partition, long Offset, long KafkaTimestamp);

public enum RecordOutcome
{
    /// <summary>Counted in its window.</summary>
    Accepted,

    /// <summary>Its window was already finalized by the watermark; the caller routes it to the late topic.</summary>
    Late,

    /// <summary>The stream-static join found no campaign for its ad; the caller dead-letters it.</summary>
    UnknownAd,

    /// <summary>
    /// Its event time fails the event-time guard (<see cref="CtrPipeline.Contracts.AdEvent.IsEventTimeInRange"/>): not
    /// positive, or more than Pipeline:MaxEventTimeSkew ahead of the engine's clock. The watermark never saw it; the
    /// caller dead-letters it with the reason <see cref="CtrPipeline.Contracts.AdEvent.EventTimeOutOfRange"/>.
    /// </summary>
    OutOfRange,
}

/// <summary>How the engine turns state into output.</summary>
public enum ExecutionMode
{
    /// <summary>Flink-like: per record; a window's row is emitted once, when the watermark passes its end (append).</summary>
    Continuous,

    /// <summary>Spark-like: on a processing-time trigger, changed rows (update mode) plus final rows behind the watermark.</summary>
    MicroBatch,
}
