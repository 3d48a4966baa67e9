namespace CometMpm.Diagnostics;

/// <summary>Lets a warning through at most once per interval, counting what it held back, so an outage does not flood the app's logs.</summary>
internal sealed class LogThrottle(TimeProvider timeProvider, TimeSpan interval)
{
    private long _last;
    private long _suppressed;

    public bool ShouldLog() => ShouldLog(out _);

    public bool ShouldLog(out long suppressed)
    {
        var now = timeProvider.GetTimestamp();
        var last = Interlocked.Read(ref _last);
        if ((last == 0 || timeProvider.GetElapsedTime(last, now) >= interval) && Interlocked.CompareExchange(ref _last, now, last) == last)
        {
            suppressed = Interlocked.Exchange(ref _suppressed, 0);
            return true;
        }

        Interlocked.Increment(ref _suppressed);
        suppressed = 0;
        return false;
    }
}
