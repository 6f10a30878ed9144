namespace FlinkGateway;

/// <summary>How the engine's last job ended, as the next start needs to know it.</summary>
/// <param name="SavepointPath">It was stopped with a savepoint: the next job resumes from it.</param>
/// <param name="RunningJobId">It was submitted and has left no savepoint (it may still run, or have failed or been cancelled).</param>
public sealed record LastJob(string? SavepointPath, string? RunningJobId);

/// <summary>
/// One file per job name in Flink:SavepointStore, on the machine that runs FlinkGateway, so that a restarted engine
/// knows where its last job's window state is: "savepoint &lt;path&gt;" or "running &lt;job id&gt;". Replaced whole
/// (written beside, then moved) so that a crash never leaves half a line.
/// </summary>
public sealed class JobLedger(string directory, string jobName)
{
    public string FilePath { get; } = Path.Combine(directory, jobName + ".last-job");

    public LastJob? Read()
    {
        if (!File.Exists(FilePath)) return null;
        return File.ReadAllText(FilePath).Trim().Split(' ', 2) switch
        {
            ["savepoint", var path] => new LastJob(path, null),
            ["running", var jobId] => new LastJob(null, jobId),
            _ => throw new FlinkException($"{FilePath} is not a record of a Flink job (expected 'savepoint <path>' or 'running <job id>'); delete it to start afresh."),
        };
    }

    public void Running(string jobId) => Write($"running {jobId}");

    public void Savepoint(string path) => Write($"savepoint {path}");

    private void Write(string line)
    {
        Directory.CreateDirectory(directory);
        var next = FilePath + ".next";
        File.WriteAllText(next, line + "\n");
        File.Move(next, FilePath, overwrite: true);
    }
}
