using System.Diagnostics;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using CtrPipeline.Bench.Faults;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.Producer;
using Microsoft.Extensions.Configuration;

namespace CtrPipeline.Bench.Load;

/// <summary>
/// The load made by N Producer.Worker processes (--producers N), each instance i of N sending its share of the rate
/// (<see cref="ProducerOptions.Instance"/>), so the load generator does not compete with the engine inside the
/// benchmark's process. The benchmark follows them the way it would follow producers on other machines: on the run's
/// progress topic, where each reports its counters every half second and once more, done, after its flush
/// (<see cref="LoadProgressRecord"/>). The processes' output goes to the run's folder; disposing kills them.
/// <para>
/// The producers may also run elsewhere (--producers-external N, <see cref="AwaitExternalAsync"/>): the benchmark then
/// starts none, writes each instance's environment to a file, and follows them on the progress topic alone.
/// </para>
/// </summary>
public sealed class LoadProducers : ILoad
{
    /// <summary>
    /// Events/s one producer process is given by default. Measured (docs/measurements.md, "Producer processes"): one
    /// Producer.Worker against an EmbeddedKafka process, 16 partitions, 30 s, took 3.4 CPU-s per million events at
    /// 100,000 events/s and 2.6 at 250,000 (start-up included), schedule lag bounded at both (at most 116 and 284 ms,
    /// in the first seconds); an MMPP of mean 100,000 (bursts near 340,000) 3.5 CPU-s, at most 129 ms. So 200,000
    /// events/s is about half a core, with room for an MMPP's bursts, which reach 3.4 times the mean.
    /// </summary>
    public const double RatePerProcess = 200_000;

    public const int MaxProcesses = 64;

    /// <summary>How long after its duration a producer may take to flush and report done (its flush waits up to a minute).</summary>
    private static readonly TimeSpan DoneGrace = TimeSpan.FromSeconds(90);

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How long after a producer's clean exit its done record, published just before, may take to arrive here.</summary>
    private static readonly TimeSpan DoneAfterExit = TimeSpan.FromSeconds(10);

    /// <summary>How long external producers have to report after the benchmark wrote their environments: the load starts then.</summary>
    public static readonly TimeSpan ExternalStartWithin = TimeSpan.FromMinutes(2);

    /// <summary>From starting the processes to the load's start: a Release worker starts and connects in about a second here.</summary>
    private static readonly TimeSpan StartDelay = TimeSpan.FromSeconds(4);

    /// <summary>The processes started here: one per instance, or none when the producers run elsewhere.</summary>
    private readonly List<ChildProcess> _processes;
    private readonly int _instances;
    private readonly LoadProgressRecord?[] _latest;
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reading;
    private readonly TimeSpan _duration;
    private readonly Lock _gate = new();

    private LoadProducers(int instances, List<ChildProcess> processes, IConsumer<byte[], byte[]> consumer, TimeSpan duration)
    {
        _instances = instances;
        _processes = processes;
        _latest = new LoadProgressRecord?[instances];
        _consumer = consumer;
        _duration = duration;
        _reading = Task.Factory.StartNew(Read, TaskCreationOptions.LongRunning);
    }

    /// <summary>The default number of producer processes for a rate: one per <see cref="RatePerProcess"/> events/s.</summary>
    public static int For(double rate) => Math.Max(1, (int)Math.Ceiling(rate / RatePerProcess));

    /// <summary>The run's progress topic: one of the run's own, so a cluster's copy goes with its other topics.</summary>
    public static string ProgressTopic(RunTopics kafka) => kafka.Scoped("ctr-load-progress");

    /// <summary>
    /// Creates the run's progress topic, starts <paramref name="count"/> producer processes with
    /// <paramref name="options"/> (the linger already chosen for the cluster), all to start at one time, and returns then.
    /// </summary>
    public static async Task<LoadProducers> StartAsync(int count, ProducerOptions options, RunTopics kafka, string catalogPath, string logPrefix, CancellationToken cancel)
    {
        ConfigurationException.Require(count is >= 1 and <= MaxProcesses, $"--producers must be between 0 and {MaxProcesses} (got {count}).");
        var duration = Duration(options);
        var consumer = await FollowProgressAsync(kafka, cancel);
        // One start for all, after their processes have started (a few seconds on a busy machine); one that misses it
        // starts late, and its schedule lag shows by how much.
        var startAt = DateTimeOffset.UtcNow.Add(StartDelay);
        var processes = new List<ChildProcess>();
        try
        {
            for (var i = 0; i < count; i++)
                processes.Add(ChildProcess.Start($"producer-{i}", "Producer.Worker", Environment(i, count, options, kafka, catalogPath, startAt), $"{logPrefix}producer-{i}.log"));
        }
        catch
        {
            foreach (var p in processes) p.Dispose();
            consumer.Dispose();
            throw;
        }
        return await StartedAsync(new LoadProducers(count, processes, consumer, duration), startAt, cancel);
    }

    /// <summary>
    /// The load made by <paramref name="count"/> producers the benchmark does not start (on other machines, or by hand):
    /// writes instance i's environment to <c>{filePrefix}producer-i.env</c> (NAME=value lines; a Producer.Worker given
    /// it makes that instance's share), says where through <paramref name="tell"/>, and returns at the load's start,
    /// <paramref name="startWithin"/> from now, once every instance has reported on the progress topic; an instance
    /// that has not by then fails the run.
    /// </summary>
    public static async Task<LoadProducers> AwaitExternalAsync(int count, ProducerOptions options, RunTopics kafka, string catalogPath, string filePrefix,
        TimeSpan startWithin, Action<string> tell, CancellationToken cancel)
    {
        ConfigurationException.Require(count is >= 1 and <= MaxProcesses, $"--producers-external must be between 1 and {MaxProcesses} (got {count}).");
        var duration = Duration(options);
        var consumer = await FollowProgressAsync(kafka, cancel);
        var startAt = DateTimeOffset.UtcNow.Add(startWithin);
        var load = new LoadProducers(count, [], consumer, duration);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var file = Path.GetFullPath($"{filePrefix}producer-{i}.env");
                File.WriteAllLines(file, Environment(i, count, options, kafka, catalogPath, startAt)
                    .OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => $"{v.Key}={v.Value}"));
                tell($"producer instance {i} of {count}: start a Producer.Worker with the environment in {file} before {startAt.UtcDateTime:HH:mm:ss} UTC");
            }
        }
        catch
        {
            await load.DisposeAsync();
            throw;
        }
        return await StartedAsync(load, startAt, cancel);
    }

    /// <summary>Creates the run's progress topic and a consumer of all of it from its start (no group to join, nothing to commit).</summary>
    private static async Task<IConsumer<byte[], byte[]>> FollowProgressAsync(RunTopics kafka, CancellationToken cancel)
    {
        var topic = ProgressTopic(kafka);
        await CreateTopicAsync(kafka.Kafka, topic);
        var consumer = new ConsumerBuilder<byte[], byte[]>(KafkaClients.Consumer(kafka.Kafka, $"ctr-load-progress-{Guid.NewGuid():N}", "ctr-load-progress"))
            .SetLogHandler((_, _) => { })
            .Build();
        consumer.Assign(Enumerable.Range(0, await PartitionsAsync(kafka.Kafka, topic, cancel)).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        return consumer;
    }

    /// <summary>Instance <paramref name="instance"/>'s whole environment: the run's pipeline, its share of the load, the cluster.</summary>
    private static Dictionary<string, string> Environment(int instance, int count, ProducerOptions options, RunTopics kafka, string catalogPath, DateTimeOffset startAt)
    {
        var environment = new Dictionary<string, string>(kafka.Pipeline.Environment(catalogPath));
        foreach (var (name, value) in options.ForInstance(instance, count, ProgressTopic(kafka), startAt.ToUnixTimeMilliseconds()).Environment()) environment[name] = value;
        foreach (var (name, value) in Connection(kafka.Kafka)) environment[name] = value;
        return environment;
    }

    private static TimeSpan Duration(ProducerOptions options) => options.Duration ?? throw new ConfigurationException("The producer processes need a duration.");

    /// <summary>Returns <paramref name="load"/> at <paramref name="startAt"/>, once every instance has started; disposes it on failure.</summary>
    private static async Task<LoadProducers> StartedAsync(LoadProducers load, DateTimeOffset startAt, CancellationToken cancel)
    {
        try
        {
            await load.StartedAsync(startAt, cancel);
            var untilStart = startAt - DateTimeOffset.UtcNow;
            if (untilStart > TimeSpan.Zero) await Task.Delay(untilStart, cancel);
            return load;
        }
        catch
        {
            await load.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Waits for every instance's first record, which it publishes once its process is up; a process started here that
    /// exits first is left for <see cref="RunAsync"/> to report. Those started here have <see cref="StartTimeout"/>,
    /// those elsewhere until the load's start.
    /// </summary>
    private async Task StartedAsync(DateTimeOffset startAt, CancellationToken cancel)
    {
        var external = _processes.Count == 0;
        var limit = external ? startAt - DateTimeOffset.UtcNow : StartTimeout;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            int[] waiting;
            lock (_gate) waiting = [.. Enumerable.Range(0, _instances).Where(i => _latest[i] is null && (external || !_processes[i].HasExited))];
            if (waiting.Length == 0) return;
            if (_reading.IsFaulted) await _reading;
            if (clock.Elapsed > limit)
                throw new WorkerFailedException(external
                    ? $"producer instance(s) {string.Join(", ", waiting)} of {_instances} did not report on the progress topic before the load's start ({startAt.UtcDateTime:HH:mm:ss} UTC): start each with the environment in its .env file"
                    : $"the producer processes did not start sending within {StartTimeout.TotalSeconds:0} s (their logs: {_processes[0].Name}.log and the others in the run's folder)");
            await Task.Delay(20, cancel);
        }
    }

    /// <summary>How a worker finds the run's cluster (KafkaConfiguration): its servers, and the client properties file.</summary>
    private static Dictionary<string, string> Connection(KafkaConnection kafka)
    {
        var variables = new Dictionary<string, string> { ["ConnectionStrings__" + KafkaConfiguration.ConnectionName] = kafka.BootstrapServers };
        if (kafka.Properties.File is { } file) variables[KafkaConfiguration.ConfigFileKey.Replace(":", "__")] = file;
        else
            foreach (var (name, value) in kafka.Properties) variables[$"{KafkaConfiguration.PropertiesSection.Replace(":", "__")}__{name}"] = value;
        return variables;
    }

    public IReadOnlyList<int> ProcessIds => [.. _processes.Select(p => p.Id)];

    /// <summary>Sums of all instances; the schedule lags are the worst instance's, the state and elapsed time the furthest.</summary>
    public ProducerProgress Progress
    {
        get
        {
            List<ProducerProgress> all;
            lock (_gate) all = [.. _latest.OfType<LoadProgressRecord>().Select(r => r.Progress)];
            return new ProducerProgress(
                all.Sum(p => p.Scheduled), all.Sum(p => p.Sent), all.Sum(p => p.Delivered), all.Sum(p => p.DeliveryErrors), all.Sum(p => p.Malformed),
                all.Select(p => p.ScheduleLagMs).DefaultIfEmpty().Max(), all.Select(p => p.MaxScheduleLagMs).DefaultIfEmpty().Max(),
                all.Select(p => p.State).DefaultIfEmpty().Max(), all.Sum(p => p.OfferedRate), all.Select(p => p.Elapsed).DefaultIfEmpty().Max());
        }
    }

    /// <summary>
    /// Completes when every instance has reported done; a <see cref="WorkerFailedException"/> naming the instance when
    /// one exits before that or with an error, or has not reported done well after its duration.
    /// </summary>
    public async Task RunAsync(CancellationToken cancel)
    {
        var deadline = Stopwatch.StartNew();
        var exitedCleanly = new Stopwatch?[_processes.Count];
        while (true)
        {
            for (var i = 0; i < _processes.Count; i++)
            {
                var process = _processes[i];
                bool done;
                lock (_gate) done = _latest[i]?.Done == true;
                if (process.ExitCode is not { } code || code == 0 && done) continue;
                // A producer exits 0 once it has reported done, and that record may still be on its way here.
                if (code == 0 && (exitedCleanly[i] ??= Stopwatch.StartNew()).Elapsed < DoneAfterExit) continue;
                throw new WorkerFailedException($"producer instance {i} of {_instances} (process {process.Id}) exited with code {code}"
                    + (done ? "" : " before reporting done") + LastErrors(process));
            }
            if (_reading.IsFaulted) await _reading;
            lock (_gate)
                if (_latest.All(r => r?.Done == true)) return;
            if (deadline.Elapsed > _duration + DoneGrace)
            {
                var missing = Enumerable.Range(0, _instances).Where(i => _latest[i]?.Done != true);
                throw new WorkerFailedException($"producer instance(s) {string.Join(", ", missing)} did not report done within {(_duration + DoneGrace).TotalSeconds:0} s");
            }
            await Task.Delay(100, cancel);
        }
    }

    private static string LastErrors(ChildProcess process) =>
        process.ErrorLines is { Count: > 0 } lines ? ": " + string.Join(" | ", lines.TakeLast(5)) : "";

    private void Read()
    {
        while (!_stop.IsCancellationRequested)
        {
            var result = _consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result?.Message?.Value is not { } value) continue;
            // Records of other instances or runs (a reused topic on a cluster) are not this load's.
            if (LoadProgressRecord.Parse(value) is { } record && record.Instances == _instances && record.Instance < _instances)
                lock (_gate) _latest[record.Instance] = record;
        }
    }

    private static async Task CreateTopicAsync(KafkaConnection kafka, string topic)
    {
        using var admin = new AdminClientBuilder(KafkaClients.Admin(kafka, "ctr-bench")).SetLogHandler((_, _) => { }).Build();
        var timeout = TimeSpan.FromSeconds(15);
        try
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = -1 }],
                new CreateTopicsOptions { RequestTimeout = timeout, OperationTimeout = timeout });
        }
        catch (CreateTopicsException e) when (e.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
            // Another run's or an earlier attempt's: the records say which run they belong to.
        }
        catch (KafkaException e) when (e is not CreateTopicsException)
        {
            // librdkafka's mock in this process has no CreateTopics; it makes a topic when a metadata request names it.
        }
    }

    /// <summary>The topic's partition count, once the cluster knows the topic.</summary>
    private static async Task<int> PartitionsAsync(KafkaConnection kafka, string topic, CancellationToken cancel)
    {
        using var admin = new AdminClientBuilder(KafkaClients.Admin(kafka, "ctr-bench")).SetLogHandler((_, _) => { }).Build();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(5)).Topics.FirstOrDefault(t => t.Topic == topic);
            if (metadata is { Error.IsError: false, Partitions.Count: > 0 }) return metadata.Partitions.Count;
            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
                throw new WorkerFailedException($"Kafka at {kafka} did not create the load's progress topic {topic}: {metadata?.Error.Reason ?? "no metadata"}");
            await Task.Delay(200, cancel);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes) process.Dispose();
        await _stop.CancelAsync();
        await _reading;
        _consumer.Close();
        _consumer.Dispose();
        _stop.Dispose();
    }
}
