using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace CometMpm.LoadTest;

/// <summary>
/// A fixed amount of CPU work for the endpoint (<c>api --work-us</c>): a count of xorshift steps, calibrated once in the
/// parent to a number of microseconds and passed to every API process, so each mode does exactly the same work. A count,
/// not a spin on the clock: a request preempted mid-spin would otherwise be charged its wait as work.
/// </summary>
internal static class Work
{
    /// <summary>
    /// Runs <paramref name="iterations"/> dependent xorshift steps. Not inlined and its result returned, so the JIT can
    /// neither drop the call nor the loop; optimized at once, so calibration and the server run the same machine code.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static ulong Spin(long iterations)
    {
        var x = 0x9E3779B97F4A7C15UL;
        for (var i = 0L; i < iterations; i++)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }

        return x;
    }

    /// <summary>
    /// Spin iterations per microsecond on this machine: the fastest of <paramref name="trials"/> timed runs of about a
    /// millisecond each (the fastest is the one least disturbed by other processes on a shared machine).
    /// </summary>
    public static double IterationsPerMicrosecond(int trials = 25)
    {
        const long n = 2_000_000;
        Spin(n); // page in, settle the clock
        var best = double.MaxValue;
        for (var t = 0; t < trials; t++)
        {
            var start = Stopwatch.GetTimestamp();
            Spin(n);
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }

        return n / best;
    }
}
