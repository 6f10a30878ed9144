using System.Globalization;
using CtrPipeline.Contracts;
using Microsoft.Extensions.Configuration;

namespace CtrPipeline.AppHost;

public enum PipelineMode { Auto, Embedded, Containers }

/// <summary>
/// What a user chooses when starting the AppHost, from the "Parameters" configuration section:
/// <c>dotnet run --project src/CtrPipeline.AppHost -- --Parameters:rate=50000</c> or <c>Parameters__rate=50000</c>.
/// Validated up front with the same rules the services apply, so a bad value stops the AppHost with one message
/// instead of leaving crashed resources in the dashboard.
/// </summary>
/// <param name="ChosenEngines">The engines asked for; null for "all", which depends on the mode (see <see cref="EnginesFor"/>).</param>
/// <param name="FlinkKafka">Kafka as the Flink cluster reaches it, when that is not what the AppHost knows (an existing cluster).</param>
/// <param name="FlinkCatalog">The campaign catalog as the Flink cluster reads it, when not the copy in the AppHost's Flink image.</param>
public sealed record PipelineParameters(
    PipelineMode Mode, IReadOnlyList<string>? ChosenEngines, string Profile, double Rate, TimeSpan WindowSize, TimeSpan WatermarkDelay, int? KafkaPort,
    double TracesPerSecond, string? FlinkKafka = null, string? FlinkCatalog = null)
{
    public const string Section = "Parameters";

    public static PipelineParameters From(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        string Get(string key, string fallback) => section[key] is { Length: > 0 } value ? value : fallback;

        var modeText = Get("mode", "auto");
        if (!Enum.TryParse<PipelineMode>(modeText, ignoreCase: true, out var mode) || !Enum.IsDefined(mode))
            throw new ConfigurationException($"Parameters:mode must be auto, embedded or containers (got '{modeText}').");
        var rateText = Get("rate", "5000");
        if (!double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || !double.IsFinite(rate) || rate <= 0)
            throw new ConfigurationException($"Parameters:rate must be a positive number of events/s (got '{rateText}').");

        var tracesText = Get("traces", "2");
        if (!double.TryParse(tracesText, NumberStyles.Float, CultureInfo.InvariantCulture, out var traces) || !double.IsFinite(traces) || traces < 0)
            throw new ConfigurationException($"Parameters:traces must be the number of events traced per second, 0 for none (got '{tracesText}').");

        var portText = Get("kafka-port", "9092");
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
            throw new ConfigurationException($"Parameters:kafka-port must be a TCP port, or 0 for any free port (got '{portText}').");

        var parameters = new PipelineParameters(
            mode,
            Get("engine", "all").Trim() == "all" ? null : Engines.ParseList(Get("engine", "all"), Engines.All),
            TrafficProfiles.Require(Get("profile", TrafficProfiles.Mmpp)),
            rate,
            Durations.Parse(Get("window", "10s"), "Parameters:window"),
            Durations.Parse(Get("watermark", "2s"), "Parameters:watermark"),
            port == 0 ? null : port,
            traces,
            section["flink-kafka"] is { Length: > 0 } flinkKafka ? flinkKafka : null,
            section["flink-catalog"] is { Length: > 0 } flinkCatalog ? flinkCatalog : null);
        parameters.Pipeline().Validate();
        return parameters;
    }

    /// <summary>The pipeline settings these parameters imply; every service receives them as Pipeline__* variables.</summary>
    public PipelineSettings Pipeline() => new() { WindowSize = WindowSize, WatermarkDelay = WatermarkDelay };

    /// <summary>
    /// The engines this run starts: "all" is the native engines, plus Flink where there is a Flink cluster (containers
    /// mode, or an existing SQL Gateway in ConnectionStrings:flink-gateway). Asking for Flink without one is an error.
    /// </summary>
    public IReadOnlyList<string> EnginesFor(PipelineMode mode, bool externalFlink)
    {
        var flink = mode == PipelineMode.Containers || externalFlink;
        if (ChosenEngines is null) return flink ? Engines.All : Engines.Native;
        if (ChosenEngines.Contains(Engines.Flink) && !flink)
            throw new ConfigurationException(
                "The flink engine needs a Flink cluster: containers mode (a container runtime; Parameters:mode=containers), "
                + "or ConnectionStrings:flink-gateway naming an existing Flink SQL Gateway.");
        return ChosenEngines;
    }

    /// <summary>Embedded unless containers were asked for, or a healthy container runtime was found in auto mode.</summary>
    public PipelineMode Resolve(Func<bool> containerRuntimeIsHealthy) => Mode switch
    {
        PipelineMode.Auto => containerRuntimeIsHealthy() ? PipelineMode.Containers : PipelineMode.Embedded,
        _ => Mode,
    };
}
