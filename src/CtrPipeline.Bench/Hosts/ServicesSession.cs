using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Confluent.Kafka;
using CtrPipeline.AppHost;
using CtrPipeline.Bench.Measurement;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;
using CtrPipeline.SqlEngine;
using CtrPipeline.Streaming;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CtrPipeline.Bench.Hosts;

/// <summary>
/// The engine as a service of the AppHost's own app model (Program.cs, built exactly as `dotnet run --project
/// src/CtrPipeline.AppHost` builds it, with load=external): its own process, or with containers mode its cluster, and
/// the Kafka the AppHost brings (a fresh embedded broker per run, or the Kafka container). The benchmark sends the
/// load and sees the engine through its readiness health check and Kafka only: the results, late and dead-letter
/// topics for its output, its group's committed offsets as progress, a trailer of events for end of input
/// (<see cref="EndOfInput"/>).
/// </summary>
internal sealed class ServicesSession : IEngineSession
{
    /// <summary>Longer in containers mode: images may be pulled and clusters take their time.</summary>
    private static readonly TimeSpan EmbeddedStartTimeout = TimeSpan.FromMinutes(3), ContainersStartTimeout = TimeSpan.FromMinutes(15);

    private readonly DistributedApplication _app;
    private readonly string _engine;
    private readonly EngineOutputWatch _output;
    private readonly IConsumer<Ignore, Ignore>? _committed;
    private readonly TopicPartition[] _events;
    private readonly CancellationTokenSource _stop = new();
    private readonly Queue<string> _lastLines = new();
    private readonly Task _watchingLogs;
    private readonly ExperimentSettings _settings;
    private readonly CampaignCatalog _catalog;
    private readonly DatabaseTarget? _runDatabase;
    private long _committedSum;
    private DateTime _committedAt;

    private ServicesSession(DistributedApplication app, RunTopics kafka, EngineTarget target, ExperimentSettings settings, CampaignCatalog catalog,
        DatabaseTarget? runDatabase, IProcessCost? cost)
    {
        _app = app;
        Cost = cost;
        _runDatabase = runDatabase;
        _engine = target.Engine;
        _settings = settings;
        _catalog = catalog;
        Kafka = kafka;
        var pipeline = kafka.Pipeline;
        _events = [.. Enumerable.Range(0, pipeline.Partitions).Select(p => new TopicPartition(pipeline.Topics.Events, p))];
        _output = new EngineOutputWatch(kafka.Kafka, pipeline, _engine);
        if (CommittingGroup(_engine, kafka) is { } group)
            _committed = new ConsumerBuilder<Ignore, Ignore>(KafkaClients.Consumer(kafka.Kafka, group, "bench-committed-observer"))
                .SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        _watchingLogs = WatchLogsAsync(_stop.Token);
        Processing = FailWhenEngineEndsAsync(_stop.Token);
        Ready = ReadyAsync(_stop.Token);
    }

    public static async Task<IEngineSession> StartAsync(ExperimentSettings settings, EngineTarget target, RunContext context, CancellationToken cancel)
    {
        // With --kafka the run's fresh topics are made first, and the AppHost is given the cluster and their names.
        var cluster = settings.Kafka.Mode == "cluster" ? await settings.Kafka.OpenAsync(context.RunId, settings.Pipeline, cancel) : null;
        var pipeline = cluster?.Pipeline ?? settings.Pipeline;
        context.Progress.Phase(target.Name, $"starting the AppHost's app model ({settings.Mode} mode, engine {target.Engine}, load from this benchmark)");
        string[] args =
        [
            $"--Parameters:mode={settings.Mode}",
            $"--Parameters:engine={target.Engine}",
            "--Parameters:load=external",
            "--Parameters:kafka-port=0",
            "--Parameters:traces=0",
            $"--Parameters:window={Durations.Format(pipeline.WindowSize)}",
            $"--Parameters:watermark={Durations.Format(pipeline.WatermarkDelay)}",
            $"--Parameters:trigger={Durations.Format(pipeline.TriggerInterval)}",
            string.Create(CultureInfo.InvariantCulture, $"--Parameters:partitions={pipeline.Partitions}"),
            .. target.ServiceArguments,
            .. settings.ServiceConnections.Select(c => $"--ConnectionStrings:{c.Key}={c.Value}"),
            .. cluster is null ? Array.Empty<string>() : [$"--ConnectionStrings:{PipelineTopology.KafkaConnection}={cluster.Bootstrap}", $"--Parameters:topic-prefix={cluster.Scope}"],
            // The client properties travel as the file's path: their secrets stay in the file.
            .. cluster?.Kafka.Properties.File is { } config ? [$"--Parameters:kafka-config={config}"] : Array.Empty<string>(),
        ];
        DistributedApplication? app = null;
        DatabaseTarget? runDatabase = null;
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.CtrPipeline_AppHost>(args, cancel);
            runDatabase = RunDatabase(builder.AppHostDirectory, target, cluster);
            // Quiet on the console: the resources' own log lines still reach the log watcher (their last words); the
            // health checks' failures while services start and stop, and DCP's development-certificate notice, are not news.
            builder.Services.AddLogging(logging => logging.AddFilter<Microsoft.Extensions.Logging.Console.ConsoleLoggerProvider>((category, level) =>
                level >= LogLevel.Warning && category is not ("Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService" or "Aspire.Hosting.Dcp.DcpHost")));
            app = await builder.BuildAsync(cancel);
            using var starting = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            starting.CancelAfter(StartTimeout(settings));
            await app.StartAsync(starting.Token);
            await app.Services.GetRequiredService<ResourceNotificationService>().WaitForResourceAsync(target.Engine, KnownResourceStates.Running, starting.Token);
            var kafka = cluster ?? await AppHostKafkaAsync(app, pipeline, settings.Mode, starting.Token);
            var cost = await EngineCostAsync(app, target.Engine, starting.Token);
            return new ServicesSession(app, kafka, target, settings, context.Catalog, runDatabase, cost);
        }
        catch (Exception e)
        {
            if (app is not null) await app.DisposeAsync();
            if (runDatabase is not null) await runDatabase.ResetAsync(CancellationToken.None);
            if (cluster is not null) await cluster.DisposeAsync();
            if (e is OperationCanceledException && !cancel.IsCancellationRequested)
                throw new WorkerFailedException($"the AppHost did not run {target.Engine} within {StartTimeout(settings).TotalMinutes:0} min");
            throw;
        }
    }

    /// <summary>
    /// The SQL engine's database of a run on a --kafka cluster, new for the run's topics (the AppHost names it from
    /// their prefix: <see cref="SqlEngineDatabase.ForRun"/>), to be removed after it; null for any other run.
    /// </summary>
    private static DatabaseTarget? RunDatabase(string appHostDirectory, EngineTarget target, RunTopics? cluster)
    {
        if (target.Engine != Engines.Sql || cluster?.Scope is not { } prefix) return null;
        var (file, schema) = SqlEngineDatabase.ForRun(appHostDirectory, prefix);
        return DatabaseTarget.From(target.Postgres, new SqlEngineOptions { SqliteFile = file, Schema = schema! }); // a prefix always names a schema
    }

    private static TimeSpan StartTimeout(ExperimentSettings settings) => settings.Mode == "containers" ? ContainersStartTimeout : EmbeddedStartTimeout;

    /// <summary>The Kafka the AppHost brought: its embedded broker, fresh for this run, or its Kafka container.</summary>
    private static async Task<RunTopics> AppHostKafkaAsync(DistributedApplication app, PipelineSettings pipeline, string mode, CancellationToken cancel)
    {
        var bootstrap = await app.GetConnectionStringAsync(PipelineTopology.KafkaConnection, cancel)
            ?? throw new WorkerFailedException("the AppHost gave no Kafka connection string");
        var broker = mode == "containers"
            ? $"the AppHost's Kafka container at {bootstrap}"
            : $"the AppHost's embedded broker (librdkafka mock cluster in its own process) at {bootstrap}";
        return new RunTopics(new KafkaConnection(bootstrap), pipeline, scope: null, broker, embedded: mode != "containers", () => ValueTask.CompletedTask);
    }

    /// <summary>
    /// The engine's processes, from the app model: the project's process as DCP reports it (executable.pid), with its
    /// descendants; for Flink and Spark also their cluster's containers. Null when DCP gives no pid, or the cluster is
    /// not the app model's containers (an existing one): a cost without it would be far too low.
    /// </summary>
    private static async Task<IProcessCost?> EngineCostAsync(DistributedApplication app, string engine, CancellationToken cancel)
    {
        var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        wait.CancelAfter(TimeSpan.FromSeconds(10)); // the pid may come in a snapshot after the running state's
        int pid;
        try
        {
            var running = await notifications.WaitForResourceAsync(engine, e => Property(e, "executable.pid") is not null, wait.Token);
            pid = await EngineProcessAsync(int.Parse(Property(running, "executable.pid")!, CultureInfo.InvariantCulture), wait.Token);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return null;
        }
        string[] cluster = engine switch
        {
            Engines.Flink => [ApacheFlink.JobManager, ApacheFlink.TaskManager, ApacheFlink.SqlGateway],
            Engines.Spark => [ApacheSpark.Server],
            _ => [],
        };
        var containers = new List<string>();
        foreach (var name in cluster)
        {
            // An existing cluster (--connection-string) is not in the app model: its cost cannot be read from here.
            if (!notifications.TryGetCurrentState(name, out var state) || Property(state, "container.id") is not { } id) return null;
            containers.Add(id);
        }
        if (ProcessCost.Of([pid]) is not { } process) return null;
        return containers.Count == 0 ? process : new CostSum([process, new ContainerCost(ContainerRuntime.Name, containers)]);
    }

    /// <summary>
    /// DCP starts a project through `dotnet run --no-build`, whose child is the engine: the launcher idles, and its
    /// hundred-odd MB are not the engine's memory, so the child is measured. Any other process is measured itself.
    /// </summary>
    private static async Task<int> EngineProcessAsync(int pid, CancellationToken cancel)
    {
        if (!OperatingSystem.IsLinux() || !IsDotnetRun(pid)) return pid;
        while (true)
        {
            if (ProcessCost.Children(pid) is [var engine]) return engine;
            await Task.Delay(100, cancel); // the launcher starts it in a moment
        }
    }

    private static bool IsDotnetRun(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0') is [var program, "run", ..] && Path.GetFileName(program) == "dotnet";
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string? Property(ResourceEvent resource, string name) =>
        resource.Snapshot.Properties.FirstOrDefault(p => p.Name == name)?.Value?.ToString() is { Length: > 0 } value ? value : null;

    /// <summary>
    /// The consumer group whose committed offsets show how far the engine got: its default group, under the run's
    /// prefix on a --kafka cluster (the AppHost's Parameters:topic-prefix scopes it). Spark's Kafka source commits no offsets.
    /// </summary>
    private static string? CommittingGroup(string engine, RunTopics kafka) => engine == Engines.Spark ? null : kafka.Scoped(Engines.DefaultGroupId(engine));

    public RunTopics Kafka { get; }

    public Task Processing { get; }

    /// <summary>The engine's readiness health check (EngineReadiness in the AppHost) passed; faults if the engine ends first.</summary>
    public Task Ready { get; }

    private async Task ReadyAsync(CancellationToken stop)
    {
        var healthy = _app.Services.GetRequiredService<ResourceNotificationService>().WaitForResourceHealthyAsync(_engine, stop);
        await await Task.WhenAny(healthy, Processing);
    }

    /// <summary>
    /// No: a group's committed offsets are what the engine can safely restart from, which for the exactly-once engine
    /// is the oldest event of a window still open, a window's worth behind what it read. They show as progress; the
    /// verdict comes from the results (<see cref="FinalsTracker"/>) and the end of input.
    /// </summary>
    public bool KnowsConsumed => false;

    public string? Database => null;

    public IProcessCost? Cost { get; }

    public EngineProgress Progress => new(Committed(), 0, _output.Late, _output.Bad, _output.Rows, 0, 0, long.MinValue, 0);

    public async Task<EndOfInputResult> EndInputAsync(long loadStartMs, long loadEndMs, TimeSpan timeout, CancellationToken cancel)
    {
        var pipeline = Kafka.Pipeline;
        var windowMs = (long)pipeline.WindowSize.TotalMilliseconds;
        using (var producer = new ProducerBuilder<byte[], byte[]>(KafkaClients.Producer(Kafka.Kafka, "bench-trailer")).Build())
            await EndOfInput.SendTrailerAsync(producer, pipeline, _catalog, TrailerEventIds, onTick: null, cancel);
        var lastWindow = loadEndMs / windowMs * windowMs;
        var settled = await EndOfInput.SettleAsync(_output, lastWindow, TimeSpan.FromSeconds(5), timeout, cancel);
        // The first window holds events from before the load only if the producer sends some out of order or skewed.
        var firstWindow = (loadStartMs - (long)_settings.Producer.LongestEventTimeLag.TotalMilliseconds) / windowMs * windowMs;
        return new EndOfInputResult(settled && _output.MaxFinalWindowStart >= lastWindow, (firstWindow, lastWindow + windowMs));
    }

    /// <summary>Far above the generator's ids, so the trailer's events are told apart in the topic.</summary>
    private const long TrailerEventIds = 9_000_000_000_000;

    private long Committed()
    {
        if (_committed is null || DateTime.UtcNow - _committedAt < TimeSpan.FromMilliseconds(500)) return Interlocked.Read(ref _committedSum);
        try
        {
            var sum = _committed.Committed(_events, TimeSpan.FromSeconds(2)).Sum(o => Math.Max(0, o.Offset.Value));
            Interlocked.Exchange(ref _committedSum, sum);
            _committedAt = DateTime.UtcNow;
        }
        catch (KafkaException)
        {
            // keep the last figure
        }
        return Interlocked.Read(ref _committedSum);
    }

    /// <summary>Keeps the engine's last log lines, for the message if it ends.</summary>
    private async Task WatchLogsAsync(CancellationToken stop)
    {
        var logs = _app.Services.GetRequiredService<ResourceLoggerService>();
        try
        {
            // By resource, not by name: DCP names a project's process <name>-<suffix>, and logs are kept under that.
            var resource = _app.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == _engine);
            await foreach (var batch in logs.WatchAsync(resource).WithCancellation(stop))
                foreach (var line in batch)
                {
                    lock (_lastLines)
                    {
                        _lastLines.Enqueue(line.Content);
                        if (_lastLines.Count > 5) _lastLines.Dequeue();
                    }
                }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task FailWhenEngineEndsAsync(CancellationToken stop)
    {
        var notifications = _app.Services.GetRequiredService<ResourceNotificationService>();
        var ended = await notifications.WaitForResourceAsync(_engine, e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), stop);
        string last;
        lock (_lastLines) last = string.Join(" | ", _lastLines);
        throw new WorkerFailedException($"{_engine} ended ({ended.Snapshot.State?.Text}, exit code {ended.Snapshot.ExitCode}): {last}");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await Task.WhenAll(_watchingLogs, Processing); }
        catch (OperationCanceledException) { }
        catch (WorkerFailedException) { } // already seen by the experiment
        _output.Dispose();
        _committed?.Dispose();
        Cost?.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_runDatabase is not null) await _runDatabase.ResetAsync(CancellationToken.None); // the run's SQLite file or PostgreSQL schema
        await Kafka.DisposeAsync(); // the run's topics on a --kafka cluster
        _stop.Dispose();
    }
}
