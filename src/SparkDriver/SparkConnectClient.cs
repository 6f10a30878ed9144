using Grpc.Core;
using Grpc.Net.Client;
using SparkDriver.Connect;

namespace SparkDriver;

/// <summary>One streaming query as Spark Connect knows it.</summary>
public sealed record StreamingQueryHandle(string Id, string RunId, string Name);

/// <summary>
/// A Spark Connect client for one session: the server's version (AnalyzePlan), starting a streaming query
/// (ExecutePlan with WriteStreamOperationStart), and commands on it (status, last progress, exception, stop).
/// Spark's errors arrive as gRPC statuses whose detail is Spark's message; they become <see cref="SparkException"/>s
/// carrying that message.
/// </summary>
public sealed class SparkConnectClient(GrpcChannel channel, Uri address)
{
    private const string ClientType = "ctr-pipeline/SparkDriver";
    private readonly SparkConnectService.SparkConnectServiceClient _service = new(channel);
    private readonly UserContext _user = new() { UserId = "ctr-pipeline", UserName = "ctr-pipeline" };

    /// <summary>The session every call of this client belongs to (a UUID, as Spark requires).</summary>
    public string SessionId { get; } = Guid.NewGuid().ToString();

    public Uri Address => address;

    public async Task<string> GetSparkVersionAsync(CancellationToken cancel)
    {
        var response = await Call(() => _service.AnalyzePlanAsync(new AnalyzePlanRequest
        {
            SessionId = SessionId,
            UserContext = _user,
            ClientType = ClientType,
            SparkVersion = new AnalyzePlanRequest.Types.SparkVersion(),
        }, cancellationToken: cancel).ResponseAsync);
        return response.SparkVersion?.Version ?? "unknown";
    }

    public async Task<StreamingQueryHandle> StartAsync(Command start, CancellationToken cancel)
    {
        foreach (var response in await ExecuteAsync(start, cancel))
            if (response.WriteStreamOperationStartResult is { } started)
                return new StreamingQueryHandle(started.QueryId.Id, started.QueryId.RunId, started.Name);
        throw new SparkException("Spark accepted the streaming query but returned no query id.");
    }

    public async Task<StreamingQueryCommandResult> CommandAsync(StreamingQueryHandle query, Action<StreamingQueryCommand> set, CancellationToken cancel)
    {
        var command = new StreamingQueryCommand { QueryId = new StreamingQueryInstanceId { Id = query.Id, RunId = query.RunId } };
        set(command);
        foreach (var response in await ExecuteAsync(new Command { StreamingQueryCommand = command }, cancel))
            if (response.StreamingQueryCommandResult is { } result)
                return result;
        throw new SparkException($"Spark returned nothing for the {command.CommandCase} command.");
    }

    private async Task<List<ExecutePlanResponse>> ExecuteAsync(Command command, CancellationToken cancel) =>
        await Call(async () =>
        {
            using var call = _service.ExecutePlan(new ExecutePlanRequest
            {
                SessionId = SessionId,
                UserContext = _user,
                ClientType = ClientType,
                OperationId = Guid.NewGuid().ToString(),
                Plan = new Plan { Command = command },
            }, cancellationToken: cancel);
            var responses = new List<ExecutePlanResponse>();
            await foreach (var response in call.ResponseStream.ReadAllAsync(cancel)) responses.Add(response);
            return responses;
        });

    private async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
        {
            throw new SparkUnreachableException(address, e.Status.Detail);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            throw new SparkException(e.Status.Detail.Length > 0 ? e.Status.Detail : e.StatusCode.ToString());
        }
    }
}
