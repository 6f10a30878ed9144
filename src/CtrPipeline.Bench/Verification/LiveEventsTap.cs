using System.Globalization;
using CtrPipeline.Bench.Faults;
using CtrPipeline.Contracts;

namespace CtrPipeline.Bench.Verification;

/// <summary>
/// The oracle's tap while the run happens, in a process of its own (<see cref="TapCommand"/>), for a cluster that may
/// not keep the run until it ends: the embedded broker keeps the newest 5 MiB of a partition. In its own process its
/// second full read of the events topic does not share the benchmark's threads and heap, and its CPU shows as the
/// apparatus's. Its events come back through a file in the run's folder.
/// </summary>
internal sealed class LiveEventsTap : IEventsRecording
{
    private readonly ChildProcess _process;
    private readonly string _file;

    private LiveEventsTap(ChildProcess process, string file, string reason)
    {
        _process = process;
        _file = file;
        Reason = reason;
    }

    public static LiveEventsTap Start(RunTopics kafka, string workFolder, string reason)
    {
        var file = Path.Combine(Path.GetFullPath(workFolder), $"events-tap-{Guid.NewGuid():N}.bin");
        var pipeline = kafka.Pipeline;
        List<string> arguments =
        [
            TapCommand.Name, "--kafka", kafka.Bootstrap, "--topic", pipeline.Topics.Events,
            "--partitions", pipeline.Partitions.ToString(CultureInfo.InvariantCulture), "--out", file,
        ];
        if (kafka.Kafka.Properties.File is { } config) arguments.AddRange(["--kafka-config", config]);
        else if (kafka.Kafka.Properties.Count > 0)
            throw new InvalidOperationException("The tap process takes the client properties as their file (--kafka-config).");
        var process = ChildProcess.Start("events-tap", "CtrPipeline.Bench", new Dictionary<string, string>(), Path.Combine(workFolder, "events-tap.log"),
            arguments, keepInputOpen: true);
        return new LiveEventsTap(process, file, reason);
    }

    public EventsRead Read => EventsRead.Live;

    public string Reason { get; }

    public IReadOnlyList<int> ProcessIds => [_process.Id];

    public async Task<RecordedEvents> CompleteAsync(TimeSpan timeout, CancellationToken cancel)
    {
        _process.CloseInput();
        if (!await _process.WaitForExitAsync(timeout + TimeSpan.FromSeconds(30)))
            throw new WorkerFailedException($"the oracle's tap process did not finish within {timeout.TotalSeconds + 30:0} s of the end of input");
        if (_process.ExitCode != 0)
            throw new WorkerFailedException($"the oracle's tap process ended with exit code {_process.ExitCode}: {string.Join(" | ", _process.ErrorLines.TakeLast(3))}");
        try
        {
            return TappedEventsFile.Read(_file);
        }
        finally
        {
            File.Delete(_file);
        }
    }

    public void Dispose()
    {
        _process.Dispose();
        File.Delete(_file);
    }
}
