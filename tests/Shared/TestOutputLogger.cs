using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace CtrPipeline.Testing;

/// <summary>Log lines into the test's output; lines that come after the test ended are dropped.</summary>
internal sealed class TestOutputLogger(ITestOutputHelper output) : ILogger
{
    private readonly List<string> _lines = [];

    /// <summary>Every message logged so far, formatted, without time and level.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines) return [.. _lines];
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        var message = formatter(state, exception);
        lock (_lines) _lines.Add(message);
        try
        {
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}: {message}");
        }
        catch (InvalidOperationException)
        {
            // xunit refuses output once the test is over; a component's last lines are not worth failing for.
        }
    }
}
