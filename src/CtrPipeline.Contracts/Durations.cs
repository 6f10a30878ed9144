using System.Globalization;

namespace CtrPipeline.Contracts;

/// <summary>Human durations on the command line: "30s", "500ms", "2m", "1h", or a TimeSpan such as "00:00:30".</summary>
public static class Durations
{
    public static TimeSpan Parse(string text, string optionName)
    {
        var t = text.Trim();
        (string suffix, double unitSeconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, unitSeconds) in units)
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
                return TimeSpan.FromSeconds(n * unitSeconds);
        if (TimeSpan.TryParse(t, CultureInfo.InvariantCulture, out var span)) return span;
        throw new ConfigurationException($"{optionName}: '{text}' is not a duration; use e.g. 30s, 500ms, 2m or 00:00:30.");
    }

    public static string Format(TimeSpan span) =>
        span.TotalSeconds >= 1 && span.TotalSeconds == Math.Floor(span.TotalSeconds)
            ? $"{span.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s"
            : $"{span.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms";
}
