using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SparkDriver.Connect;

namespace SparkDriver.Tests;

/// <summary>
/// NOT SPARK: an in-process gRPC server implementing the same SparkConnectService definition the client is generated
/// from, for protocol tests on a machine without Spark. It records every request (and so the plan it receives),
/// answers a WriteStreamOperationStart with a query id, and status / lastProgress / exception / stop commands with
/// what a running Structured Streaming query reports. Errors are raised as Spark Connect raises them: a gRPC status
/// whose detail is Spark's message.
/// </summary>
public sealed class RecordingSparkConnectServer : IAsyncDisposable
{
    public const string QueryId = "8b1f6c1e-4f7a-4a53-9d5e-2f3c4b5a6d7e";
    public const string RunId = "0f9e8d7c-6b5a-4c3d-8e1f-a2b3c4d5e6f7";

    /// <summary>Spark's answer to a plan that names a column that does not exist, as the server sends it.</summary>
    public const string UnresolvedColumn =
        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `ad_idx` cannot be resolved. "
        + "Did you mean one of the following? [`ad_id`, `kafka_ts`, `event_ts`, `event_type`]. SQLSTATE: 42703";

    private readonly WebApplication _app;

    private RecordingSparkConnectServer(WebApplication app, Script behaviour)
    {
        _app = app;
        Behaviour = behaviour;
    }

    public sealed class Script
    {
        public bool RejectStart { get; init; }
        /// <summary>The start is refused with an error quoting the sink's kafka.* options, values and all: the worst case for a secret.</summary>
        public bool RejectStartQuotingKafkaOptions { get; init; }
        /// <summary>The status poll from which the query reports itself inactive (null: it stays active).</summary>
        public int? InactiveFromPoll { get; init; }
        public ConcurrentQueue<ExecutePlanRequest> Executed { get; } = new();
        public ConcurrentQueue<AnalyzePlanRequest> Analyzed { get; } = new();
        public int StatusPolls;
    }

    public Script Behaviour { get; }
    public Uri Address { get; private set; } = null!;

    public IEnumerable<Command> Commands => Behaviour.Executed.Select(r => r.Plan.Command);

    public static async Task<RecordingSparkConnectServer> StartAsync(Script? behaviour = null)
    {
        behaviour ??= new Script();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(behaviour);
        var app = builder.Build();
        app.MapGrpcService<Service>();
        var server = new RecordingSparkConnectServer(app, behaviour);
        await app.StartAsync();
        server.Address = new Uri(app.Urls.Single());
        return server;
    }

    private sealed class Service(Script behaviour) : SparkConnectService.SparkConnectServiceBase
    {
        public override Task<AnalyzePlanResponse> AnalyzePlan(AnalyzePlanRequest request, ServerCallContext context)
        {
            behaviour.Analyzed.Enqueue(request);
            return Task.FromResult(new AnalyzePlanResponse
            {
                SessionId = request.SessionId,
                SparkVersion = new AnalyzePlanResponse.Types.SparkVersion { Version = "3.5.3" },
            });
        }

        public override async Task ExecutePlan(ExecutePlanRequest request, IServerStreamWriter<ExecutePlanResponse> responses, ServerCallContext context)
        {
            behaviour.Executed.Enqueue(request);
            Guid.Parse(request.SessionId); // Spark requires a UUID
            var response = new ExecutePlanResponse { SessionId = request.SessionId, OperationId = request.OperationId, ResponseId = Guid.NewGuid().ToString() };
            var command = request.Plan.Command;
            var id = new StreamingQueryInstanceId { Id = QueryId, RunId = RunId };
            switch (command.CommandTypeCase)
            {
                case Command.CommandTypeOneofCase.WriteStreamOperationStart:
                    if (behaviour.RejectStart) throw new RpcException(new Status(StatusCode.Internal, UnresolvedColumn));
                    if (behaviour.RejectStartQuotingKafkaOptions)
                        throw new RpcException(new Status(StatusCode.Internal, "[KAFKA_OPTIONS] Cannot create the Kafka sink with options "
                            + string.Join(", ", command.WriteStreamOperationStart.Options.Where(o => o.Key.StartsWith("kafka.", StringComparison.Ordinal)).Select(o => $"{o.Key}={o.Value}"))));
                    response.WriteStreamOperationStartResult = new WriteStreamOperationStartResult { QueryId = id, Name = command.WriteStreamOperationStart.QueryName };
                    break;
                case Command.CommandTypeOneofCase.StreamingQueryCommand:
                    var query = command.StreamingQueryCommand;
                    if (query.QueryId.Id != QueryId) throw new RpcException(new Status(StatusCode.Internal, "[STREAMING_QUERY_NOT_FOUND]"));
                    response.StreamingQueryCommandResult = query.CommandCase switch
                    {
                        StreamingQueryCommand.CommandOneofCase.Status => new StreamingQueryCommandResult
                        {
                            QueryId = id,
                            Status = Interlocked.Increment(ref behaviour.StatusPolls) >= (behaviour.InactiveFromPoll ?? int.MaxValue)
                                ? new StreamingQueryCommandResult.Types.StatusResult { StatusMessage = "Stopped", IsActive = false }
                                : new StreamingQueryCommandResult.Types.StatusResult { StatusMessage = "Waiting for next trigger", IsDataAvailable = true, IsActive = true },
                        },
                        StreamingQueryCommand.CommandOneofCase.LastProgress => new StreamingQueryCommandResult
                        {
                            QueryId = id,
                            RecentProgress = new StreamingQueryCommandResult.Types.RecentProgressResult { RecentProgressJson = { Progress(behaviour.StatusPolls) } },
                        },
                        StreamingQueryCommand.CommandOneofCase.Exception => new StreamingQueryCommandResult
                        {
                            QueryId = id,
                            Exception = new StreamingQueryCommandResult.Types.ExceptionResult
                            {
                                ExceptionMessage = "[STREAM_FAILED] Query [id = " + QueryId + "] terminated with exception: Timeout of 60000ms expired before the position for partition events-0 could be determined",
                                ErrorClass = "STREAM_FAILED",
                            },
                        },
                        StreamingQueryCommand.CommandOneofCase.Stop => new StreamingQueryCommandResult { QueryId = id },
                        _ => throw new RpcException(new Status(StatusCode.Unimplemented, query.CommandCase.ToString())),
                    };
                    break;
                default:
                    throw new RpcException(new Status(StatusCode.Unimplemented, command.CommandTypeCase.ToString()));
            }
            await responses.WriteAsync(response);
            await responses.WriteAsync(new ExecutePlanResponse
            {
                SessionId = request.SessionId, OperationId = request.OperationId, ResultComplete = new ExecutePlanResponse.Types.ResultComplete(),
            });
        }

        /// <summary>A StreamingQueryProgress as Spark 3.5 serialises it (fields the driver reads, and some it does not).</summary>
        private static string Progress(int batch) => $$"""
            {"id":"{{QueryId}}","runId":"{{RunId}}","name":"ctr-pipeline","timestamp":"2026-11-25T05:00:0{{batch % 10}}.000Z","batchId":{{batch}},"batchDuration":850,
             "numInputRows":4750,"inputRowsPerSecond":4987.5,"processedRowsPerSecond":5588.2,
             "durationMs":{"addBatch":700,"getBatch":3,"latestOffset":5,"queryPlanning":40,"triggerExecution":850,"walCommit":30},
             "eventTime":{"avg":"2026-11-25T04:59:58.000Z","max":"2026-11-25T05:00:00.500Z","min":"2026-11-25T04:59:55.000Z","watermark":"2026-11-25T04:59:58.500Z"},
             "stateOperators":[{"operatorName":"stateStoreSave","numRowsTotal":300,"numRowsUpdated":100,"numRowsDroppedByWatermark":7}],
             "sources":[{"description":"KafkaV2[Subscribe[events]]","numInputRows":4750}],
             "sink":{"description":"org.apache.spark.sql.kafka010.KafkaSourceProvider$KafkaTable@1","numOutputRows":100} }
            """;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
