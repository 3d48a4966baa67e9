using CometMpm.Diagnostics;
using Microsoft.Extensions.Logging;

namespace CometMpm.AspNetCore.Diagnostics;

/// <summary>
/// Counts capture errors (as dropped events, reason <c>capture_error</c>) and logs them at most every 10 s,
/// so that a broken input type does not flood the application's log.
/// </summary>
internal sealed class CaptureDiagnostics(ILoggerFactory loggerFactory, TimeProvider timeProvider, CometMpmInstruments? instruments = null)
{
    /// <summary>The <c>error.type</c> tag of <c>cometmpm.events.dropped</c> for a prediction lost to an error inside capture.</summary>
    public const string CaptureError = "capture_error";

    private static readonly TimeSpan WarningInterval = TimeSpan.FromSeconds(10);
    private long _errors;
    private long _lastWarning;

    public ILogger Logger { get; } = loggerFactory.CreateLogger("CometMpm.AspNetCore");

    /// <summary>The metrics of a client by name (null for the default client); null when the core is not registered.</summary>
    public CometMpmMetrics? ForClient(string? name) => instruments?.ForClient(name ?? string.Empty);

    public TimeProvider TimeProvider { get; } = timeProvider;

    public long ErrorCount => Interlocked.Read(ref _errors);

    public void CaptureFailed(string endpoint, CometMpmMetrics? metrics, Exception exception)
    {
        var count = Interlocked.Increment(ref _errors);
        try
        {
            metrics?.Dropped(CaptureError);
            var now = TimeProvider.GetTimestamp();
            var last = Interlocked.Read(ref _lastWarning);
            if ((last == 0 || TimeProvider.GetElapsedTime(last, now) >= WarningInterval)
                && Interlocked.CompareExchange(ref _lastWarning, now, last) == last)
            {
                CaptureLog.CaptureFailed(Logger, endpoint, count, exception);
            }
        }
        catch (Exception)
        {
            // Reporting must not fail the request either.
        }
    }

    public static void SampledOut(CometMpmMetrics? metrics) => metrics?.Dropped(DropReason.SampledOut);
}
