namespace CtrPipeline.Bench.Measurement;

/// <summary>
/// The engine's and the apparatus's cost over one window of a run, from <see cref="Start"/> to the first
/// <see cref="Stop"/>. A source that is missing (null) or cannot be read leaves its figure null: reported as none.
/// </summary>
public sealed class CostMeter(IProcessCost? engine, IProcessCost? apparatus)
{
    private CostSample? _engineStart, _apparatusStart;
    private bool _stopped;

    public Cost? Engine { get; private set; }

    public Cost? Apparatus { get; private set; }

    public void Start()
    {
        _engineStart = TrySample(engine);
        _apparatusStart = TrySample(apparatus);
    }

    public void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        Engine = Between(engine, _engineStart);
        Apparatus = Between(apparatus, _apparatusStart);
    }

    private static Cost? Between(IProcessCost? source, CostSample? start) =>
        start is { } from && TrySample(source) is { } to ? to.Since(from) : null;

    private static CostSample? TrySample(IProcessCost? source)
    {
        try
        {
            return source?.Sample();
        }
        catch (CostUnavailableException)
        {
            return null;
        }
    }
}
