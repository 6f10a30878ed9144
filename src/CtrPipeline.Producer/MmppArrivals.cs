using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;

namespace CtrPipeline.Producer;

/// <summary>
/// Bursty traffic: a Markov-modulated Poisson process. A continuous-time Markov chain moves between states; in state i
/// events arrive as Poisson with rate base * multiplier[i]. The base is chosen so that the long-run mean rate (over the
/// chain's stationary distribution) equals the requested rate. The chain draws from its own random stream and the
/// arrivals from theirs, so processes whose chains share a seed switch states at the same times whatever their rates.
/// </summary>
public sealed class MmppArrivals : IArrivalProcess
{
    private readonly double[] _rates;
    private readonly double[,] _switch;
    private readonly double[] _leaveRate;
    private readonly Random _chain;
    private readonly Random _arrivals;
    /// <summary>The process's own time (seconds): of the last arrival, and when the current state ends (the chain's alone).</summary>
    private double _clock, _stateEndsAt;

    /// <param name="chain">Drives the state changes only.</param>
    /// <param name="arrivals">Draws the arrivals within a state.</param>
    public MmppArrivals(double meanRate, double[] multipliers, double[] switchRates, Random chain, Random arrivals)
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
        (_chain, _arrivals) = (chain, arrivals);
        State = Stationary.Select((p, i) => (p, i)).MaxBy(x => x.p).i;
        _stateEndsAt = HoldingTime();
    }

    /// <summary>The share of time the chain spends in each state in the long run.</summary>
    public double[] Stationary { get; }

    public IReadOnlyList<double> StateRates => _rates;

    public int State { get; private set; }

    public double CurrentRate => _rates[State];

    /// <summary>When the current state began, in seconds since the first arrival was asked for (the process's own time).</summary>
    public double StateEnteredAt { get; private set; }

    public double NextGapSeconds()
    {
        var from = _clock;
        while (true)
        {
            // Both clocks are memoryless, so when the state ends first, redraw the arrival in the next state.
            var arrival = _rates[State] > 0 ? _clock + Exponential.Sample(_arrivals, _rates[State]) : double.PositiveInfinity;
            if (arrival <= _stateEndsAt)
            {
                _clock = arrival;
                return _clock - from;
            }
            // State times are sums of holding times only, so instances sharing the chain agree on them to the bit.
            _clock = StateEnteredAt = _stateEndsAt;
            State = NextState();
            _stateEndsAt += HoldingTime();
        }
    }

    private double HoldingTime() => _leaveRate[State] > 0 ? Exponential.Sample(_chain, _leaveRate[State]) : double.PositiveInfinity;

    private int NextState()
    {
        var u = _chain.NextDouble() * _leaveRate[State];
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
