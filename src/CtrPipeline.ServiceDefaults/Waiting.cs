using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>The waits every worker that depends on another system needs: for it to answer at start, and for the next poll.</summary>
public static class Waiting
{
    /// <summary>
    /// Calls <paramref name="attempt"/> until it succeeds. While it fails with an exception <paramref name="unavailable"/>
    /// accepts (the other system is still starting), it retries every <paramref name="retryDelay"/> (1 s by default)
    /// with a progress line every 10 s; once <paramref name="timeout"/> has passed, that exception is thrown.
    /// </summary>
    public static async Task<T> UntilAvailableAsync<T>(this ILogger logger, string what, Func<CancellationToken, Task<T>> attempt,
        Func<Exception, bool> unavailable, TimeSpan timeout, CancellationToken stop, TimeSpan? retryDelay = null)
    {
        var waited = Stopwatch.StartNew();
        var nextReport = TimeSpan.Zero;
        while (true)
        {
            try
            {
                return await attempt(stop);
            }
            catch (Exception e) when (unavailable(e) && waited.Elapsed < timeout)
            {
                if (waited.Elapsed >= nextReport)
                {
                    logger.LogInformation("Waiting for {What} ({Waited:0} s of {Timeout:0} s): {Reason}",
                        what, waited.Elapsed.TotalSeconds, timeout.TotalSeconds, e.Message);
                    nextReport += TimeSpan.FromSeconds(10);
                }
                await Task.Delay(retryDelay ?? TimeSpan.FromSeconds(1), stop);
            }
        }
    }

    /// <summary>Waits for the timer's next tick; false once <paramref name="stop"/> is cancelled, instead of throwing.</summary>
    public static async Task<bool> NextTickAsync(this PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
