using System.Globalization;
using ScottPlot;
using static CtrPipeline.Bench.Reporting.Format;

namespace CtrPipeline.Bench.Reporting;

/// <summary>
/// The report's PNG plots (ScottPlot 5). A plot is always written, with a note when it has no data, so the links in
/// report.md never dangle. Long runs are thinned to <see cref="MaxPoints"/> points per series: drawing cost grows with
/// points, the picture does not change, and the CSVs keep every sample.
/// </summary>
internal static class Plots
{
    public const string L1Cdf = "l1-cdf.png", L2Cdf = "l2-cdf.png", Throughput = "throughput.png", CpuCost = "cpu-cost.png";
    public const int MaxPoints = 20_000;

    /// <summary>A CDF line needs far fewer points than a scatter to look exact.</summary>
    private const int CdfPoints = 2_000;

    private const int Width = 1000, Height = 560;

    public static string L1OverTime(string runId) => $"l1-over-time-{runId}.png";

    /// <summary>Writes every plot into <paramref name="folder"/>; returns their paths.</summary>
    public static IReadOnlyList<string> WriteAll(BenchmarkResults results, IReadOnlyList<string> runIds, string folder)
    {
        var written = new List<string>();
        void Save(Plot plot, string name)
        {
            var path = Path.Combine(folder, name);
            plot.SavePng(path, Width, Height);
            plot.Dispose();
            written.Add(path);
        }

        Save(ThroughputBars(results), Throughput);
        Save(CostBars(results.Runs), CpuCost);
        Save(Cdf(results.Runs, s => s.L1Ms, "L1 (processing latency)"), L1Cdf);
        Save(Cdf(results.Runs, s => s.L2Ms, "L2 (sink latency)"), L2Cdf);
        for (var i = 0; i < results.Runs.Count; i++)
            Save(LatencyOverTime(results.Runs[i]), L1OverTime(runIds[i]));
        return written;
    }

    /// <summary>
    /// Empirical CDF per run. The x axis is logarithmic when the latencies span orders of magnitude; latencies are whole
    /// milliseconds, so a 0 means "under the resolution" and is drawn at the smallest positive value instead of dropped.
    /// </summary>
    private static Plot Cdf(IReadOnlyList<RunData> runs, Func<LatencySample, double> latency, string what)
    {
        var plot = NewPlot($"{what}: empirical CDF per run", $"{what}, ms", "Fraction of result rows at or below");
        var series = runs
            .Select(r => (Label: Label(r.Report), Values: r.Latencies.Select(latency).Where(double.IsFinite).Order().ToArray()))
            .Where(s => s.Values.Length > 0)
            .ToList();
        if (series.Count == 0) return Empty(plot, "No latency samples");

        var floor = series.SelectMany(s => s.Values).Where(v => v > 0).DefaultIfEmpty(0).Min();
        var max = series.Max(s => s.Values[^1]);
        var log = floor > 0 && max / floor >= 20;
        foreach (var (label, values) in series)
        {
            var ranks = Thin(values.Length, CdfPoints);
            var line = plot.Add.ScatterLine(
                ranks.Select(k => log ? Math.Log10(Math.Max(values[k], floor)) : values[k]).ToArray(),
                ranks.Select(k => (k + 1.0) / values.Length).ToArray());
            line.LegendText = label;
            line.LineWidth = 2;
        }
        if (log)
        {
            LogTicks(plot.Axes.Bottom, floor, max);
            if (series.Any(s => s.Values[0] <= 0))
                plot.XLabel($"{what}, ms (log scale; 0 drawn at {floor.ToString("0.###", CultureInfo.InvariantCulture)})", 15);
        }
        plot.Axes.SetLimitsY(0, 1.02);
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }

    /// <summary>L1 of every row as a dot against the offered (and consumed) rate on a right-hand axis: bursts next to their latency.</summary>
    private static Plot LatencyOverTime(RunData run)
    {
        var plot = NewPlot($"L1 over time: {Label(run.Report)}", "Seconds since the load started", "L1, ms");
        if (run.Latencies.Count == 0 && run.Load.Count == 0) return Empty(plot, "No samples in this run");

        var rows = Thin(run.Latencies.Count, MaxPoints).Select(i => run.Latencies[i]).ToArray();
        var dots = plot.Add.ScatterPoints(rows.Select(s => s.AtSeconds).ToArray(), rows.Select(s => s.L1Ms).ToArray());
        dots.MarkerSize = 3;
        dots.Color = Colors.C0.WithAlpha(0.5);
        dots.LegendText = "L1 of a result row (left axis)";

        var load = Thin(run.Load.Count, MaxPoints).Select(i => run.Load[i]).ToArray();
        var seconds = load.Select(s => s.AtSeconds).ToArray();
        var offered = plot.Add.ScatterLine(seconds, load.Select(s => s.OfferedRate).ToArray(), Colors.C1);
        offered.LineWidth = 2;
        offered.LegendText = "Offered rate, events/s (right axis)";
        offered.Axes.YAxis = plot.Axes.Right;
        var consumed = plot.Add.ScatterLine(seconds, load.Select(s => s.ConsumedRate).ToArray(), Colors.C2);
        consumed.LinePattern = LinePattern.Dashed;
        consumed.LegendText = "Consumed rate, events/s (right axis)";
        consumed.Axes.YAxis = plot.Axes.Right;

        plot.Axes.Right.Label.Text = "Events/s";
        plot.Axes.Right.TickGenerator = Thousands();
        plot.Axes.AutoScale();
        plot.Axes.SetLimitsX(0, Math.Max(1, Math.Max(rows.Select(s => s.AtSeconds).DefaultIfEmpty().Max(), seconds.DefaultIfEmpty().Max())) * 1.01);
        plot.Axes.SetLimitsY(0, Math.Max(1, rows.Select(s => s.L1Ms).DefaultIfEmpty().Max()) * 1.05, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, Math.Max(1, load.Select(s => Math.Max(s.OfferedRate, s.ConsumedRate)).DefaultIfEmpty().Max()) * 1.25, plot.Axes.Right);
        if (rows.Length == 0) Note(plot, "No latency samples in this run");
        // Below the data: any corner would hide the dots of a burst.
        plot.ShowLegend(Edge.Bottom);
        return plot;
    }

    /// <summary>Sustainable throughput per searched engine; without a search, the achieved rate of each run.</summary>
    private static Plot ThroughputBars(BenchmarkResults results)
    {
        var searched = results.Searches.Count > 0;
        var (title, bars) = searched
            ? ("Sustainable throughput (highest rate with bounded consumer lag)",
               results.Searches.Select(s => (Name: $"{s.Engine} ({s.Profile})", Value: s.SustainableRate, Text: s.SustainableText.Replace("≥", ">="))).ToList())
            : ("Achieved rate per run (no sustainable-throughput search ran)",
               results.Runs.Select(r => (Name: Label(r.Report), Value: r.Report.AchievedRate, Text: Rate(r.Report.AchievedRate))).ToList());
        var plot = NewPlot(title, searched ? "Engine (profile)" : "Run", "Events/s");
        if (bars.Count == 0) return Empty(plot, "No runs");

        var palette = new ScottPlot.Palettes.Category10();
        plot.Add.Bars(bars.Select((b, i) => new Bar
        {
            Position = i,
            Value = b.Value,
            Label = b.Value > 0 ? b.Text : searched ? "none sustained" : "0", // ">=": the search's maximum was sustained
            FillColor = palette.GetColor(i),
            CenterLabel = false,
        }).ToArray()).ValueLabelStyle.FontSize = 14;
        plot.Axes.Bottom.SetTicks([.. bars.Select((_, i) => (double)i)], [.. bars.Select(b => b.Name)]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.TickLabelStyle.FontSize = 14;
        plot.Axes.Left.TickGenerator = Thousands();
        plot.Axes.SetLimitsY(0, Math.Max(1, bars.Max(b => b.Value)) * 1.15);
        plot.Grid.XAxisStyle.IsVisible = false;
        return plot;
    }

    /// <summary>CPU seconds per million events of each run: the engine's bar, the apparatus's beside it; "none" where not measured.</summary>
    private static Plot CostBars(IReadOnlyList<RunData> runs)
    {
        var plot = NewPlot("CPU seconds per million events (load and catch-up)", "Run", "CPU seconds per million events");
        if (runs.Count == 0) return Empty(plot, "No runs");

        Bar Bar(double position, double? value, ScottPlot.Color color) => new()
        {
            Position = position,
            Value = value ?? 0,
            Label = value is { } v ? v.ToString("#,0.#", CultureInfo.InvariantCulture) : "none",
            FillColor = color,
            CenterLabel = false,
        };
        var bars = runs.SelectMany((run, i) => new[]
        {
            Bar(3 * i, run.Report.CpuSecondsPerMillionEvents, Colors.C0),
            Bar(3 * i + 1, run.Report.ApparatusCpuSecondsPerMillionEvents, Colors.C1),
        }).ToArray();
        plot.Add.Bars(bars).ValueLabelStyle.FontSize = 13;
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "Engine", FillColor = Colors.C0 });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "Apparatus (benchmark and load processes)", FillColor = Colors.C1 });
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Bottom.SetTicks([.. runs.Select((_, i) => 3 * i + 0.5)], [.. runs.Select(r => Label(r.Report))]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Left.TickGenerator = Thousands();
        plot.Axes.SetLimits(-1, 3 * runs.Count - 1, 0, Math.Max(1, bars.Max(b => b.Value)) * 1.25);
        plot.Grid.XAxisStyle.IsVisible = false;
        return plot;
    }

    private static Plot NewPlot(string title, string x, string y)
    {
        var plot = new Plot();
        plot.Title(title, 18);
        plot.XLabel(x, 15);
        plot.YLabel(y, 15);
        return plot;
    }

    private static void Note(Plot plot, string note)
    {
        var annotation = plot.Add.Annotation(note, Alignment.MiddleCenter);
        annotation.LabelFontSize = 20;
        annotation.LabelBackgroundColor = Colors.White;
        annotation.LabelShadowColor = Colors.Transparent;
    }

    private static Plot Empty(Plot plot, string note)
    {
        Note(plot, note);
        plot.Axes.SetLimits(0, 1, 0, 1);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(); // no ticks: there is no scale to read
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual();
        return plot;
    }

    /// <summary>Up to <paramref name="max"/> indexes spread evenly over 0..count-1, always with the last (the maximum of sorted data).</summary>
    private static IEnumerable<int> Thin(int count, int max)
    {
        if (count <= max) return Enumerable.Range(0, count);
        var step = (double)(count - 1) / (max - 1);
        return Enumerable.Range(0, max).Select(i => (int)Math.Round(i * step)).Distinct();
    }

    /// <summary>Ticks at 1, 2, 5 × 10^k on an axis whose coordinates are log10 of ms (only powers of ten past three decades).</summary>
    private static void LogTicks(IAxis axis, double min, double max)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        var (low, high) = ((int)Math.Floor(Math.Log10(min)), (int)Math.Ceiling(Math.Log10(max)));
        var labelled = high - low <= 3 ? new[] { 1, 2, 5 } : [1];
        for (var decade = low; decade <= high; decade++)
            for (var m = 1; m <= 9; m++)
            {
                var value = m * Math.Pow(10, decade);
                if (labelled.Contains(m)) ticks.AddMajor(Math.Log10(value), value.ToString(value < 1 ? "0.###" : "#,0", CultureInfo.InvariantCulture));
                else ticks.AddMinor(Math.Log10(value));
            }
        axis.TickGenerator = ticks;
    }

    private static ScottPlot.TickGenerators.NumericAutomatic Thousands() =>
        new() { LabelFormatter = v => v.ToString("#,0.##", CultureInfo.InvariantCulture) };
}
