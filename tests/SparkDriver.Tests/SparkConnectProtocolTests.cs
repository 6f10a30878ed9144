using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;
using Grpc.Net.Client;
using SparkDriver.Connect;
using Xunit.Abstractions;

namespace SparkDriver.Tests;

/// <summary>
/// SparkDriver against <see cref="RecordingSparkConnectServer"/>, an in-process gRPC server implementing the same
/// Spark Connect service definition (this machine has no Spark): what reaches the server, and what the driver makes
/// of the server's answers.
/// </summary>
public sealed class SparkConnectProtocolTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private sealed class Driver : IDisposable
    {
        private readonly GrpcChannel _channel;
        public readonly SparkMetrics Metrics = new();

        public Driver(Uri address, ITestOutputHelper output, PipelineSettings? pipeline = null, Action<SparkOptions>? configure = null,
            params (string Name, string Value)[] kafkaProperties)
        {
            Options = CtrQueryPlanTests.Options();
            Options.Endpoint = address.ToString();
            Options.PollInterval = TimeSpan.FromMilliseconds(50);
            Options.StartupTimeout = TimeSpan.FromSeconds(2);
            configure?.Invoke(Options);
            Pipeline = pipeline ?? new PipelineSettings();
            Options.Resolve(new ConfigurationBuilder().AddInMemoryCollection(
                kafkaProperties.Select(p => KeyValuePair.Create($"Kafka:Properties:{p.Name}", (string?)p.Value))).Build(), Pipeline);
            _channel = GrpcChannel.ForAddress(Options.GrpcAddress);
            Client = new SparkConnectClient(_channel, Options.GrpcAddress);
            Logger = new TestOutputLogger(output);
            Runner = new SparkQueryRunner(Options, Pipeline, Client, Metrics, Logger);
        }

        public TestOutputLogger Logger { get; }

        public SparkOptions Options { get; }
        public PipelineSettings Pipeline { get; }
        public SparkConnectClient Client { get; }
        public SparkQueryRunner Runner { get; }

        public void Dispose()
        {
            _channel.Dispose();
            Metrics.Dispose();
        }
    }

    [Fact]
    public async Task The_query_is_started_with_the_configured_plan_followed_exported_and_stopped_on_stop()
    {
        await using var spark = await RecordingSparkConnectServer.StartAsync();
        var pipeline = new PipelineSettings { WindowSize = TimeSpan.FromSeconds(30), WatermarkDelay = TimeSpan.FromSeconds(5) };
        using var driver = new Driver(spark.Address, output, pipeline, o => o.OutputMode = "update");
        using var metrics = new MetricCapture();

        using var stop = new CancellationTokenSource();
        var run = driver.Runner.RunAsync(stop.Token);
        while (spark.Behaviour.StatusPolls < 3 && !run.IsCompleted) await Task.Delay(20).WaitAsync(Limit);
        metrics.Collect();
        await stop.CancelAsync();
        await run.WaitAsync(Limit);

        // The server's version first, then the plan as the configuration says, then status and progress polls, then stop.
        var analyzed = Assert.Single(spark.Behaviour.Analyzed);
        Assert.NotNull(analyzed.SparkVersion);
        var commands = spark.Commands.ToList();
        CtrQueryPlanTests.AssertPlan(commands[0], pipeline, driver.Options, "30 seconds", "5 seconds", "1 seconds", "false");
        Assert.All(commands.Skip(1), c => Assert.Equal(RecordingSparkConnectServer.QueryId, c.StreamingQueryCommand.QueryId.Id));
        Assert.Contains(commands, c => c.StreamingQueryCommand?.Status == true);
        Assert.Contains(commands, c => c.StreamingQueryCommand?.LastProgress == true);
        Assert.True(commands[^1].StreamingQueryCommand.Stop);
        // Readiness, as the benchmark's services host waits for it: once, when the query started.
        Assert.Single(driver.Logger.Lines, line => line.StartsWith(Engines.ReadyPrefix(Engines.Spark) + "streaming query ", StringComparison.Ordinal));
        // One session, one user, a new operation id per call.
        var requests = spark.Behaviour.Executed.ToList();
        Assert.Single(requests.Select(r => r.SessionId).Append(analyzed.SessionId).Distinct());
        Assert.Equal(requests.Count, requests.Select(r => r.OperationId).Distinct().Count());
        Assert.All(requests, r => Assert.Equal("ctr-pipeline", r.UserContext.UserId));

        // Progress, as Spark reported it, in the exported metrics.
        Assert.Equal(1, metrics.Last("ctr.spark.query.active"));
        Assert.Equal(4987.5, metrics.Last("ctr.spark.input_rows_per_second"));
        Assert.Equal(5588.2, metrics.Last("ctr.spark.processed_rows_per_second"));
        Assert.Equal(850, metrics.Last("ctr.spark.batch_duration"));
        Assert.True(metrics.Last("ctr.spark.watermark_delay") > 0);
        // Spark's late rows: 7 in each batch the stand-in reported, each batch counted once however often it is polled.
        Assert.Equal(7 * spark.Behaviour.StatusPolls, metrics.Last("ctr.spark.rows_dropped_by_watermark"), tolerance: 7);
    }

    [Fact]
    public async Task A_plan_spark_rejects_ends_with_sparks_own_message()
    {
        await using var spark = await RecordingSparkConnectServer.StartAsync(new RecordingSparkConnectServer.Script { RejectStart = true });
        using var driver = new Driver(spark.Address, output);

        var e = await Assert.ThrowsAsync<SparkException>(() => driver.Runner.RunAsync(CancellationToken.None).WaitAsync(Limit));

        Assert.Equal(RecordingSparkConnectServer.UnresolvedColumn, e.Message);
        Assert.Single(spark.Commands); // nothing after the refused start
    }

    /// <summary>SASL PLAIN with a password that must never show.</summary>
    private static readonly (string, string)[] SaslPlain =
        [("security.protocol", "SASL_SSL"), ("sasl.mechanisms", "PLAIN"), ("sasl.username", "ctr"), ("sasl.password", "n0t-\"shown\"")];

    [Fact]
    public async Task Kafka_secrets_reach_the_server_but_never_the_log_nor_an_error_quoting_the_plan()
    {
        await using var spark = await RecordingSparkConnectServer.StartAsync(new RecordingSparkConnectServer.Script { RejectStartQuotingKafkaOptions = true });
        using var driver = new Driver(spark.Address, output, kafkaProperties: SaslPlain);

        var e = await Assert.ThrowsAsync<SparkException>(() => driver.Runner.RunAsync(CancellationToken.None).WaitAsync(Limit));

        output.WriteLine(e.Message);
        Assert.Equal("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"ctr\" password=\"n0t-\\\"shown\\\"\";",
            spark.Commands.Single().WriteStreamOperationStart.Options["kafka.sasl.jaas.config"]);
        Assert.Contains("kafka.sasl.jaas.config=***", e.Message);
        Assert.Contains("kafka.sasl.mechanism=PLAIN", e.Message);
        Assert.DoesNotContain("n0t-", e.Message);
        var plan = Assert.Single(driver.Logger.Lines, l => l.StartsWith("Spark Connect plan: ", StringComparison.Ordinal));
        Assert.Contains("\"kafka.sasl.jaas.config\": \"***\"", plan);
        Assert.All(driver.Logger.Lines, l => Assert.DoesNotContain("n0t-", l));
        Assert.All(driver.Logger.Lines, l => Assert.DoesNotContain("LoginModule", l));
    }

    [Fact]
    public async Task A_query_that_stops_on_its_own_ends_the_run_with_sparks_exception_message()
    {
        await using var spark = await RecordingSparkConnectServer.StartAsync(new RecordingSparkConnectServer.Script { InactiveFromPoll = 2 });
        using var driver = new Driver(spark.Address, output);

        var e = await Assert.ThrowsAsync<SparkException>(() => driver.Runner.RunAsync(CancellationToken.None).WaitAsync(Limit));

        Assert.StartsWith("The streaming query ctr-pipeline stopped: [STREAM_FAILED] Query [id = 8b1f6c1e", e.Message);
        Assert.Contains("could be determined", e.Message);
        Assert.DoesNotContain(spark.Commands, c => c.StreamingQueryCommand?.Stop == true); // nothing left to stop
    }

    [Fact]
    public async Task An_unreachable_server_ends_with_an_error_naming_it_after_the_startup_timeout()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        var port = ((IPEndPoint)socket.LocalEndpoint).Port;
        socket.Stop();
        using var driver = new Driver(new Uri($"http://127.0.0.1:{port}"), output);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<SparkUnreachableException>(() => driver.Runner.RunAsync(CancellationToken.None).WaitAsync(Limit));

        Assert.StartsWith($"Cannot reach Spark Connect at http://127.0.0.1:{port}/:", e.Message);
        Assert.InRange(clock.Elapsed, driver.Options.StartupTimeout, Limit);
    }

    /// <summary>The last value each Spark instrument reported.</summary>
    private sealed class MetricCapture : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, double> _last = [];

        public MetricCapture()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == PipelineTelemetry.SparkMeter) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<int>((i, v, _, _) => Set(i, v));
            _listener.SetMeasurementEventCallback<long>((i, v, _, _) => Set(i, v));
            _listener.SetMeasurementEventCallback<double>((i, v, _, _) => Set(i, v));
            _listener.Start();
        }

        private void Set(Instrument instrument, double value)
        {
            lock (_last) _last[instrument.Name] = value;
        }

        public void Collect() => _listener.RecordObservableInstruments();

        public double Last(string instrument)
        {
            lock (_last) return _last.TryGetValue(instrument, out var v) ? v : throw new Xunit.Sdk.XunitException($"{instrument} reported nothing");
        }

        public void Dispose() => _listener.Dispose();
    }
}
