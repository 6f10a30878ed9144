namespace CtrPipeline.Producer;

/// <summary>The random streams every producer instance of a run shares (<see cref="ProducerOptions.SharedRandom"/>), one per purpose.</summary>
public enum SharedStream
{
    /// <summary>Each ad's true CTR: instances must agree on it.</summary>
    AdCtrs,

    /// <summary>The MMPP's modulating chain: every instance bursts at the same times.</summary>
    MmppStates,
}
