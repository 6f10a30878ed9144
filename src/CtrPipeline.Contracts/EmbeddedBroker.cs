namespace CtrPipeline.Contracts;

/// <summary>What clients of the embedded broker (librdkafka's mock cluster) set differently; see docs/embedded-broker.md.</summary>
public static class EmbeddedBroker
{
    /// <summary>
    /// The load producer's linger (Producer:Linger) on the embedded broker. The mock answers a fetch with at most one
    /// batch per partition and finds it by walking the partition's log from its start (rdkafka_mock.c: "FIXME:
    /// Maintain an index"), so the more and smaller the batches, the more each fetch costs. With Kafka's 5 ms at
    /// 5,000 events/s the mock's thread took a whole core after two minutes and L1 grew to 28 s; with 50 ms it takes
    /// an eighth of one and L1 p50 is the watermark's 2 s. Under CreateTime timestamps L1 includes the wait (25 ms on
    /// average); on Kafka with LogAppendTime it does not.
    /// </summary>
    public static readonly TimeSpan ProducerLinger = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How the mock's cluster id begins (rdkafka_mock.c names it "mockCluster" and a number): an EmbeddedKafka process
    /// given as a cluster (--kafka) is known by it, so its clients set what they set on the embedded broker.
    /// </summary>
    public const string MockClusterIdPrefix = "mockCluster";
}
