using System.Text.Json.Nodes;

namespace CtrPipeline.EndToEnd.Tests;

/// <summary>
/// The runtime settings every process of a benchmark starts with (their runtimeconfig.json, as built beside this test).
/// An idle thread-pool worker that spins took over half the embedded broker's CPU at 250,000 events/s, CPU the engine
/// being measured then lacked (docs/measurements.md): no process of the project may spin.
/// </summary>
public sealed class RuntimeSettingsTests
{
    public static TheoryData<string> Processes => new()
    {
        "CtrPipeline.Bench", "CtrPipeline.AppHost", "EmbeddedKafka", "Producer.Worker", "NativeEngine.Worker", "SqlEngine.Worker",
    };

    [Theory]
    [MemberData(nameof(Processes))]
    public void Thread_pool_workers_sleep_instead_of_spinning(string process)
    {
        var path = Path.Combine(AppContext.BaseDirectory, process + ".runtimeconfig.json");
        Assert.True(File.Exists(path), $"{path} was not built beside the tests");
        var properties = JsonNode.Parse(File.ReadAllText(path))!["runtimeOptions"]!["configProperties"]!;
        Assert.Equal(0, (int?)properties["System.Threading.ThreadPool.UnfairSemaphoreSpinLimit"]);
    }
}
