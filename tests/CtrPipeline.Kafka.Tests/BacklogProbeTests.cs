using System.Diagnostics;
using Confluent.Kafka;
using CtrPipeline.Kafka;

namespace CtrPipeline.Kafka.Tests;

/// <summary>The probe's answers: never "no" before the broker said so, the broker's word against the consumer's position, and asked again when stale.</summary>
public sealed class BacklogProbeTests
{
    private static readonly TopicPartition P0 = new("events", 0);

    [Fact]
    public async Task A_partition_the_broker_has_not_answered_for_may_hold_records()
    {
        var broker = new Broker();
        using var probe = new BacklogProbe(broker.Ask, new ManualClock());
        broker.Answer = null; // the broker does not answer (down, or slower than the request timeout)

        Assert.True(probe.HasBacklog(P0, Offset.Unset));
        await Until(() => broker.Asked > 0);
        Assert.True(probe.HasBacklog(P0, new Offset(10)));
        Assert.Null(probe.Last(P0));
    }

    [Fact]
    public async Task Without_a_position_the_start_counts_and_with_one_the_position()
    {
        var broker = new Broker { Answer = new BrokerOffsets(High: 30, Start: 30) };
        using var probe = new BacklogProbe(broker.Ask, new ManualClock());
        probe.HasBacklog(P0, Offset.Unset);
        await Until(() => probe.Last(P0) is not null);

        Assert.False(probe.HasBacklog(P0, Offset.Unset)); // committed up to the end: nothing to read
        Assert.True(probe.HasBacklog(P0, new Offset(12))); // read up to 12 of 30
        Assert.False(probe.HasBacklog(P0, new Offset(30)));
    }

    [Fact]
    public async Task An_answer_below_the_position_predates_the_last_records_and_is_asked_again()
    {
        var broker = new Broker { Answer = new BrokerOffsets(High: 10, Start: 0) };
        using var probe = new BacklogProbe(broker.Ask, new ManualClock());
        probe.HasBacklog(P0, new Offset(10));
        await Until(() => probe.Last(P0) is not null);
        var asked = broker.Asked;

        broker.Answer = new BrokerOffsets(High: 40, Start: 0);
        Assert.True(probe.HasBacklog(P0, new Offset(20))); // "up to 10", but the consumer has read up to 20 since
        await Until(() => broker.Asked > asked && probe.Last(P0)?.High == 40);
        Assert.True(probe.HasBacklog(P0, new Offset(20)));
        Assert.False(probe.HasBacklog(P0, new Offset(40)));
    }

    [Fact]
    public async Task A_stale_answer_is_asked_again_and_used_until_the_new_one_comes()
    {
        var clock = new ManualClock();
        var broker = new Broker { Answer = new BrokerOffsets(High: 10, Start: 0) };
        using var probe = new BacklogProbe(broker.Ask, clock);
        probe.HasBacklog(P0, new Offset(10));
        await Until(() => probe.Last(P0) is not null);
        Assert.False(probe.HasBacklog(P0, new Offset(10)));
        var asked = broker.Asked;

        broker.Answer = new BrokerOffsets(High: 25, Start: 0); // records arrived since
        clock.Advance(BacklogProbe.AnswerLifetime);
        Assert.False(probe.HasBacklog(P0, new Offset(10))); // the last answer, while the new one is asked for
        await Until(() => broker.Asked > asked && probe.Last(P0)?.High == 25);
        Assert.True(probe.HasBacklog(P0, new Offset(10)));
    }

    /// <summary>
    /// A slow broker's answer is as old as its question: records appended while it was on its way are not in it, so
    /// one that took longer than the answer's lifetime says nothing, and the partition may hold records.
    /// </summary>
    [Fact]
    public async Task An_answer_that_took_longer_than_its_lifetime_to_come_is_not_trusted()
    {
        var clock = new ManualClock();
        var broker = new Broker { Answer = new BrokerOffsets(High: 10, Start: 0), Delay = () => clock.Advance(BacklogProbe.AnswerLifetime * 2) };
        using var probe = new BacklogProbe(broker.Ask, clock);
        Assert.True(probe.HasBacklog(P0, new Offset(10)));
        await Until(() => probe.Last(P0) is not null);
        Assert.True(probe.HasBacklog(P0, new Offset(10))); // "nothing past 10", but asked two lifetimes ago

        broker.Delay = null; // the broker is fast again
        await Until(() => !probe.HasBacklog(P0, new Offset(10)));
    }

    private static async Task Until(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the probe did not ask or answer within 10 s");
            await Task.Delay(10);
        }
    }

    /// <summary>The broker as the probe sees it: what it answers now, and how often it was asked.</summary>
    private sealed class Broker
    {
        private readonly Lock _lock = new();
        private BrokerOffsets? _answer;
        private Action? _delay;
        private int _asked;

        public BrokerOffsets? Answer
        {
            get { lock (_lock) return _answer; }
            set { lock (_lock) _answer = value; }
        }

        /// <summary>What answering takes: a slow broker moves the clock on.</summary>
        public Action? Delay
        {
            get { lock (_lock) return _delay; }
            set { lock (_lock) _delay = value; }
        }

        public int Asked
        {
            get { lock (_lock) return _asked; }
        }

        public BrokerOffsets? Ask(TopicPartition partition)
        {
            Delay?.Invoke();
            lock (_lock)
            {
                _asked++;
                return _answer;
            }
        }
    }

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks = DateTimeOffset.UnixEpoch.Ticks;

        public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
