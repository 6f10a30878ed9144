using CtrPipeline.Contracts;
using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;

namespace CtrPipeline.Producer;

/// <summary>When the next event arrives: the gaps between arrivals of a point process, in seconds.</summary>
public interface IArrivalProcess
{
    double NextGapSeconds();

    /// <summary>The current state's rate, events/s (constant for Poisson).</summary>
    double CurrentRate { get; }

    int State { get; }

    static IArrivalProcess Create(ProducerOptions options, Random random) => options.Profile switch
    {
        TrafficProfiles.Mmpp => new MmppArrivals(options.Rate, options.MmppRateMultipliers, options.MmppSwitchRates, random),
        _ => new PoissonArrivals(options.Rate, random),
    };
}

/// <summary>Steady traffic: exponential gaps at a constant rate.</summary>
public sealed class PoissonArrivals(double rate, Random random) : IArrivalProcess
{
    public double CurrentRate => rate;

    public int State => 0;

    public double NextGapSeconds() => Exponential.Sample(random, rate);
}

/// <summary>
/// Bursty traffic: a Markov-modulated Poisson process. A continuous-time Markov chain moves between states; in state i
/// events arrive as Poisson with rate base * multiplier[i]. The base is chosen so that the long-run mean rate (over the
/// chain's stationary distribution) equals the requested rate.
/// </summary>
public sealed class MmppArrivals : IArrivalProcess
{
    private readonly double[] _rates;
    private readonly double[,] _switch;
    private readonly double[] _leaveRate;
    private readonly Random _random;
    private double _timeLeftInState;

    public MmppArrivals(double meanRate, double[] multipliers, double[] switchRates, Random random)
    {
        var n = multipliers.Length;
        _switch = new double[n, n];
        _leaveRate = new double[n];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++)
                if (i != j)
                {
                    _switch[i, j] = switchRates[i * n + j];
                    _leaveRate[i] += _switch[i, j];
                }
        Stationary = StationaryDistribution(_switch);
        var meanMultiplier = Stationary.Select((p, i) => p * multipliers[i]).Sum();
        _rates = [.. multipliers.Select(m => meanRate * m / meanMultiplier)];
        _random = random;
        State = Stationary.Select((p, i) => (p, i)).MaxBy(x => x.p).i;
        _timeLeftInState = HoldingTime();
    }

    /// <summary>The share of time the chain spends in each state in the long run.</summary>
    public double[] Stationary { get; }

    public IReadOnlyList<double> StateRates => _rates;

    public int State { get; private set; }

    public double CurrentRate => _rates[State];

    public double NextGapSeconds()
    {
        var gap = 0.0;
        while (true)
        {
            // Both clocks are memoryless, so when the state ends first, redraw the arrival in the next state.
            var arrival = _rates[State] > 0 ? Exponential.Sample(_random, _rates[State]) : double.PositiveInfinity;
            if (arrival <= _timeLeftInState)
            {
                _timeLeftInState -= arrival;
                return gap + arrival;
            }
            gap += _timeLeftInState;
            State = NextState();
            _timeLeftInState = HoldingTime();
        }
    }

    private double HoldingTime() => _leaveRate[State] > 0 ? Exponential.Sample(_random, _leaveRate[State]) : double.PositiveInfinity;

    private int NextState()
    {
        var u = _random.NextDouble() * _leaveRate[State];
        for (var j = 0; j < _rates.Length; j++)
        {
            if (j == State) continue;
            u -= _switch[State, j];
            if (u <= 0) return j;
        }
        return State;
    }

    /// <summary>Solves pi Q = 0 with sum(pi) = 1 for the generator Q of the switching rates (least squares).</summary>
    public static double[] StationaryDistribution(double[,] switchRates)
    {
        var n = switchRates.GetLength(0);
        if (n == 1) return [1];
        var q = Matrix<double>.Build.Dense(n, n, (i, j) => switchRates[i, j]);
        for (var i = 0; i < n; i++) q[i, i] = -q.Row(i).Sum();
        // Stack Q^T (n equations) with the normalisation row.
        var a = Matrix<double>.Build.Dense(n + 1, n, (i, j) => i < n ? q[j, i] : 1);
        var b = Vector<double>.Build.Dense(n + 1, i => i < n ? 0 : 1);
        return [.. a.Solve(b)];
    }
}
