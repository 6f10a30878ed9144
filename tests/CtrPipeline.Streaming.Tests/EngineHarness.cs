using CtrPipeline.Contracts;
using CtrPipeline.Streaming;

namespace CtrPipeline.Streaming.Tests;

/// <summary>A <see cref="CtrEngine"/> on a hand-driven clock, collecting everything it emits.</summary>
internal sealed class EngineHarness
{
    /// <summary>3 campaigns x 2 ads: ads 1-2 belong to campaign 1, 3-4 to campaign 2, 5-6 to campaign 3.</summary>
    public static readonly CampaignCatalog Catalog = CampaignCatalog.Generate(3, 2);

    public const int UnknownAd = 999;

    private long _nextEventId;

    public EngineHarness(ExecutionMode mode, PipelineSettings? settings = null)
    {
        Settings = settings ?? new PipelineSettings
        {
            WindowSize = TimeSpan.FromSeconds(10),
            WatermarkDelay = TimeSpan.FromSeconds(2),
            IdleTimeout = TimeSpan.FromSeconds(5),
        };
        Engine = new CtrEngine(mode, Settings, Catalog, () => Now);
    }

    public PipelineSettings Settings { get; }

    public CtrEngine Engine { get; }

    /// <summary>Processing time, epoch ms.</summary>
    public long Now { get; set; } = 1_000_000;

    /// <summary>Everything emitted so far, in order.</summary>
    public List<CtrResult> Output { get; } = [];

    public RecordOutcome Send(long eventTime, int adId = 1, EventType type = EventType.View, int partition = 0, long? offset = null, long? kafkaTs = null) =>
        Engine.Process(new StreamRecord(new AdEvent(++_nextEventId, type, adId, 7, eventTime), partition, offset ?? _nextEventId, kafkaTs ?? Now), Output);

    public List<CtrResult> Tick()
    {
        var before = Output.Count;
        Engine.Tick(Output);
        return Output[before..];
    }

    public List<CtrResult> Drain()
    {
        var before = Output.Count;
        Engine.Drain(Output);
        return Output[before..];
    }
}
