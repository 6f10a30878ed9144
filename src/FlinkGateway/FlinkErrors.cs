using CtrPipeline.Contracts;

namespace FlinkGateway;

/// <summary>Flink answered, but with an error; <see cref="Exception.Message"/> is Flink's own explanation, no Java stack.</summary>
public class FlinkException(string message) : WorkerFailedException(message);

/// <summary>The gateway rejected a statement: Flink's error text and the statement that caused it.</summary>
public sealed class FlinkStatementException(string statement, string flinkError)
    : FlinkException($"Flink rejected a statement: {flinkError}{Environment.NewLine}Statement:{Environment.NewLine}{statement}")
{
    public string Statement { get; } = statement;
    public string FlinkError { get; } = flinkError;
}

/// <summary>Nothing answered at the address (refused, unknown host, timeout).</summary>
public sealed class FlinkUnreachableException(string what, Uri address, string reason)
    : FlinkException($"Cannot reach the {what} at {address}: {reason}");

/// <summary>Reads Flink's REST error bodies, <c>{"errors": ["...", "&lt;Exception on server side: ...&gt;"]}</c>.</summary>
public static class FlinkErrorText
{
    /// <summary>
    /// The message a user needs from Flink's errors: the deepest exception of the Table API (ValidationException,
    /// SqlParserException, TableException), else the deepest cause, each with its message but without "at ..." frames.
    /// </summary>
    public static string RootCause(IReadOnlyList<string> errors)
    {
        var exceptions = new List<(string Type, string Message)>();
        foreach (var error in errors)
        {
            var lines = error.Replace("\r", "").Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].Trim();
                if (line.StartsWith("Caused by: ", StringComparison.Ordinal)) line = line["Caused by: ".Length..];
                else if (line.StartsWith("<Exception on server side:", StringComparison.Ordinal)) continue;
                if (ExceptionLine(line) is not { } parsed) continue;
                // A message may span lines, up to the first stack frame or the next cause.
                var message = parsed.Message;
                for (var j = i + 1; j < lines.Length && !IsFrameOrCause(lines[j]); j++) message += "\n" + lines[j].TrimEnd();
                exceptions.Add((parsed.Type, message.Trim()));
            }
        }
        if (exceptions.Count == 0)
            return errors.Count == 0 ? "no error text" : string.Join("; ", errors.Select(e => e.Trim()).Where(e => e.Length > 0));

        var chosen = exceptions.LastOrDefault(e => e.Type.StartsWith("org.apache.flink.table.api.", StringComparison.Ordinal));
        if (chosen == default) chosen = exceptions[^1];
        var shortType = chosen.Type[(chosen.Type.LastIndexOf('.') + 1)..];
        return chosen.Message.Length == 0 ? shortType : $"{shortType}: {chosen.Message}";
    }

    private static bool IsFrameOrCause(string line)
    {
        var trimmed = line.Trim();
        return trimmed.StartsWith("at ", StringComparison.Ordinal) || trimmed.StartsWith("Caused by: ", StringComparison.Ordinal)
            || (trimmed.StartsWith("...", StringComparison.Ordinal) && trimmed.EndsWith("more", StringComparison.Ordinal)) || trimmed == ">";
    }

    /// <summary>"java.lang.Foo: message" or "org.x.BarException" alone.</summary>
    private static (string Type, string Message)? ExceptionLine(string line)
    {
        var colon = line.IndexOf(": ", StringComparison.Ordinal);
        var type = colon < 0 ? line : line[..colon];
        if (type.Length == 0 || type.Contains(' ') || !type.Contains('.')
            || !(type.EndsWith("Exception", StringComparison.Ordinal) || type.EndsWith("Error", StringComparison.Ordinal)))
            return null;
        return (type, colon < 0 ? "" : line[(colon + 2)..]);
    }
}
