using CtrPipeline.Contracts;
using System.Diagnostics;
using Confluent.Kafka;

namespace CtrPipeline.Kafka.Tests;

/// <summary>
/// What the embedded broker (librdkafka's mock cluster, 2.16) does with Kafka transactions, measured with real clients.
/// It speaks the whole protocol, so the exactly-once native engine runs on it, but it gives none of Kafka's isolation
/// (see docs/engines/native.md).
/// </summary>
public sealed class EmbeddedKafkaTransactionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Every request of a transaction (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn)
    /// succeeds; but the mock differs from Kafka: it keeps no aborted-transaction index, so read_committed readers
    /// see an aborted transaction's records (Kafka skips them). If this test fails, the mock learned to hide them.
    /// </summary>
    [Fact]
    public void The_embedded_broker_accepts_transactions_but_shows_aborted_records_to_read_committed_readers()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 1), ("out", 1)]);
        var bootstrap = cluster.BootstrapServers;
        using var consumer = new ConsumerBuilder<string, string>(KafkaClients.Consumer(new KafkaConnection(bootstrap), "g", "test")).Build();

        using var producer = NewTransactional(bootstrap);
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        producer.Produce(new TopicPartition("out", 0), new Message<string, string> { Key = "k", Value = "committed" });
        producer.SendOffsetsToTransaction([new TopicPartitionOffset("events", 0, 4)], consumer.ConsumerGroupMetadata, Timeout);
        producer.CommitTransaction(Timeout);

        producer.BeginTransaction();
        producer.Produce(new TopicPartition("out", 0), new Message<string, string> { Key = "k", Value = "aborted" });
        producer.SendOffsetsToTransaction([new TopicPartitionOffset("events", 0, 6)], consumer.ConsumerGroupMetadata, Timeout);
        Assert.Equal(0, producer.Flush(Timeout)); // on the broker before the abort
        producer.AbortTransaction(Timeout);

        Assert.Equal(["committed", "aborted"], Read(bootstrap, "out", IsolationLevel.ReadCommitted)); // Kafka: ["committed"]
        Assert.Equal(["committed", "aborted"], Read(bootstrap, "out", IsolationLevel.ReadUncommitted));
    }

    /// <summary>
    /// The mock differs from Kafka here: it keeps no last stable offset, so read_committed readers see the records of
    /// a transaction that is still open, and a new producer with the same transactional id neither fences the old one
    /// nor aborts its open transaction (Kafka bumps the epoch and writes abort markers). A crashed engine's
    /// uncommitted output therefore stays readable on the embedded broker. If this test fails, the mock learned both.
    /// </summary>
    [Fact]
    public void The_embedded_broker_shows_an_open_transaction_to_read_committed_readers_and_never_aborts_it()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("out", 1)]);
        var bootstrap = cluster.BootstrapServers;
        var crashed = NewTransactional(bootstrap);
        crashed.InitTransactions(Timeout);
        crashed.BeginTransaction();
        crashed.Produce(new TopicPartition("out", 0), new Message<string, string> { Key = "k", Value = "open" });
        Assert.Equal(0, crashed.Flush(Timeout));
        Assert.Equal(["open"], Read(bootstrap, "out", IsolationLevel.ReadCommitted)); // Kafka: nothing until the transaction ends

        using var restarted = NewTransactional(bootstrap);
        restarted.InitTransactions(Timeout); // Kafka: aborts "open" and fences the old producer
        crashed.CommitTransaction(Timeout);   // Kafka: ProducerFenced
        crashed.Dispose();
        Assert.Equal(["open"], Read(bootstrap, "out", IsolationLevel.ReadCommitted));
    }

    /// <summary>
    /// The mock differs from Kafka here: it accepts TxnOffsetCommit but stores nothing, so offsets sent with a
    /// transaction never become the group's committed offsets. The native engine therefore also writes them to its
    /// state topic in the same transaction and resumes from there. If this test fails, the mock learned to keep them.
    /// </summary>
    [Fact]
    public void The_embedded_broker_drops_offsets_sent_to_a_transaction()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1, [("events", 1), ("out", 1)]);
        var bootstrap = cluster.BootstrapServers;
        using var consumer = new ConsumerBuilder<string, string>(KafkaClients.Consumer(new KafkaConnection(bootstrap), "g", "test")).Build();
        consumer.Subscribe("events");
        var clock = Stopwatch.StartNew();
        while (consumer.Assignment.Count == 0 && clock.Elapsed < Timeout) consumer.Consume(TimeSpan.FromMilliseconds(100));

        using var producer = NewTransactional(bootstrap);
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        producer.Produce(new TopicPartition("out", 0), new Message<string, string> { Key = "k", Value = "v" });
        producer.SendOffsetsToTransaction([new TopicPartitionOffset("events", 0, 4)], consumer.ConsumerGroupMetadata, Timeout);
        producer.CommitTransaction(Timeout);

        var committed = consumer.Committed([new TopicPartition("events", 0)], Timeout);
        Assert.Equal(Offset.Unset, committed[0].Offset);
    }

    private static IProducer<string, string> NewTransactional(string bootstrap)
    {
        var config = KafkaClients.Producer(new KafkaConnection(bootstrap), "txn");
        config.TransactionalId = "txn-test";
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        return new ProducerBuilder<string, string>(config).Build();
    }

    private static List<string> Read(string bootstrap, string topic, IsolationLevel isolation)
    {
        var config = KafkaClients.Consumer(new KafkaConnection(bootstrap), $"reader-{Guid.NewGuid():N}", "reader");
        config.IsolationLevel = isolation;
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<string, string>(config).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var values = new List<string>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Timeout && consumer.Consume(TimeSpan.FromMilliseconds(100)) is var r)
        {
            if (r is null) continue;
            if (r.IsPartitionEOF) break;
            values.Add(r.Message.Value);
        }
        return values;
    }
}
