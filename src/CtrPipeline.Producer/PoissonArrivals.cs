using MathNet.Numerics.Distributions;

namespace CtrPipeline.Producer;

/// <summary>Steady traffic: exponential gaps at a constant rate.</summary>
public sealed class PoissonArrivals(double rate, Random random) : IArrivalProcess
{
    public double CurrentRate => rate;

    public int State => 0;

    public double NextGapSeconds() => Exponential.Sample(random, rate);
}
