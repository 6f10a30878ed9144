using CtrPipeline.Bench.Measurement;
using CtrPipeline.Streaming;
using CtrPipeline.SqlEngine;

namespace CtrPipeline.Bench.Hosts;

/// <summary>The engine in the benchmark's own process, through its runner, on the run's own topics.</summary>
internal sealed class InProcessSession : IEngineSession
{
    private readonly IEngineRunner _runner;
    private readonly CancellationTokenSource _stop = new();

    private InProcessSession(RunTopics kafka, IEngineRunner runner)
    {
        Kafka = kafka;
        _runner = runner;
        Processing = runner.RunAsync(_stop.Token);
    }

    public static async Task<IEngineSession> StartAsync(ExperimentSettings settings, EngineTarget target, RunContext context, CancellationToken cancel)
    {
        if (target.Start is null) throw new InvalidOperationException($"{target.Name} cannot run in this process: {target.SkipReason}");
        var kafka = await settings.Kafka.OpenAsync(context.RunId, settings.Pipeline, cancel);
        try
        {
            Directory.CreateDirectory(context.WorkFolder);
            var runner = target.Start(new TargetContext(kafka.Kafka, kafka.Pipeline, context.Catalog, context.RunId, context.WorkFolder, context.Logs, kafka.Scope));
            return new InProcessSession(kafka, runner);
        }
        catch
        {
            await kafka.DisposeAsync();
            throw;
        }
    }

    public RunTopics Kafka { get; }

    public Task Processing { get; }

    public Task Ready => _runner.Assigned;

    public EngineProgress Progress => _runner.Progress;

    public bool KnowsConsumed => true;

    public string? Database => (_runner as SqlEngineRunner)?.DatabaseProduct;

    /// <summary>None: the engine's threads cannot be told apart from the benchmark's.</summary>
    public IProcessCost? Cost => null;

    /// <summary>The runner closes every remaining window itself, so the oracle judges them all.</summary>
    public async Task<EndOfInputResult> EndInputAsync(long loadStartMs, long loadEndMs, TimeSpan timeout, CancellationToken cancel)
    {
        await _runner.DrainAsync(cancel);
        return new EndOfInputResult(true, null);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Processing;
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _stop.Dispose();
            await Kafka.DisposeAsync();
        }
    }
}
