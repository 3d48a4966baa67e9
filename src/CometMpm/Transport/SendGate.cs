using CometMpm.Diagnostics;
using CometMpm.Threading;
using Microsoft.Extensions.Logging;

namespace CometMpm.Transport;

/// <summary>
/// Every "may I send now?" decision of one client, in one place: the pause a <c>Retry-After</c> asked for, the circuit
/// breaker (opened after <see cref="CometMpmOptions.CircuitBreakerFailureThreshold"/> batches in a row fail after their
/// retries), the API key refused (401/403: nothing gets through until a restart), the client disabled by the start-up
/// check, and requests that have waited longer than they should. The senders, health and flush read it; nobody keeps a
/// second flag.
/// </summary>
/// <remarks>
/// The breaker is this small counter rather than Polly's: it counts whole batches after their retries (not attempts
/// within a sampling window), allows a threshold of 1, and its half-open probe is the next batch the worker sends.
/// </remarks>
/// <param name="options">The client's options (breaker threshold and duration).</param>
/// <param name="timeProvider">The clock.</param>
/// <param name="circuitFate">What happens to batches while the circuit is open, for the log.</param>
/// <param name="logger">Logs the circuit opening and closing.</param>
internal sealed class SendGate(CometMpmOptions options, TimeProvider timeProvider, string circuitFate, ILogger logger)
{
    private readonly Lock _lock = new();
    private long _pausedUntilTicks = DateTimeOffset.MinValue.UtcTicks;
    private int _consecutiveFailures;
    private DateTimeOffset _circuitOpenUntil = DateTimeOffset.MinValue;
    private int _keyRefusedStatus;
    private string? _disabledReason;
    private int _stalledRequests;
    private long _lastFailureTimestamp;
    private Task _startupChecked = Task.CompletedTask;

    /// <summary>Pulsed when a request succeeds, so that waiting loops (outbox replay) look again.</summary>
    public AsyncSignal Answered { get; } = new();

    /// <summary>Until when the backend asked (with <c>Retry-After</c> on a 429 or 503) that nothing be sent.</summary>
    public DateTimeOffset PausedUntil => new(Interlocked.Read(ref _pausedUntilTicks), TimeSpan.Zero);

    public bool IsPaused => timeProvider.GetUtcNow() < PausedUntil;

    public int KeyRefusedStatus => Volatile.Read(ref _keyRefusedStatus);

    public bool IsKeyRefused => KeyRefusedStatus != 0;

    /// <summary>Completes when the start-up check has answered; no batch is sent before (it may disable the client).</summary>
    public Task StartupChecked => Volatile.Read(ref _startupChecked);

    /// <summary>Why the start-up check disabled the client; null while it is enabled.</summary>
    public string? DisabledReason => Volatile.Read(ref _disabledReason);

    public bool IsDisabled => DisabledReason is not null;

    public DateTimeOffset CircuitOpenUntil
    {
        get
        {
            lock (_lock)
            {
                return _circuitOpenUntil;
            }
        }
    }

    public bool IsCircuitOpen => timeProvider.GetUtcNow() < CircuitOpenUntil;

    /// <summary>How many batches in a row failed after their retries; 0 once one succeeds.</summary>
    public int ConsecutiveFailures
    {
        get
        {
            lock (_lock)
            {
                return _consecutiveFailures;
            }
        }
    }

    /// <summary>Requests in flight for longer than the spill interval.</summary>
    public int StalledRequests => Volatile.Read(ref _stalledRequests);

    /// <summary>
    /// True while the backend is not known to be answering with success: a batch failed since the last success, a request
    /// is stalled, the start-up check has not answered yet, sending is paused, or nothing can be sent. Events then wait in memory only for the spill interval.
    /// </summary>
    public bool InTrouble => ConsecutiveFailures > 0 || StalledRequests > 0 || !StartupChecked.IsCompleted || IsPaused || IsKeyRefused || IsDisabled;

    /// <summary>True when a batch failed within <paramref name="window"/>.</summary>
    public bool FailedWithin(TimeSpan window)
    {
        var last = Interlocked.Read(ref _lastFailureTimestamp);
        return last != 0 && timeProvider.GetElapsedTime(last) < window;
    }

    /// <summary>Why nothing may be sent now (key refused, disabled, circuit open); null when a request may go.</summary>
    public string? Closed()
    {
        if (IsKeyRefused)
        {
            return $"the API key was refused (HTTP {KeyRefusedStatus}); nothing is sent until a restart";
        }

        if (DisabledReason is { } disabled)
        {
            return "the client is disabled: " + disabled;
        }

        return IsCircuitOpen ? $"the backend keeps failing (circuit open until {CircuitOpenUntil:O})" : null;
    }

    public void PauseUntil(DateTimeOffset until)
    {
        long current;
        do
        {
            current = Interlocked.Read(ref _pausedUntilTicks);
            if (current >= until.UtcTicks)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _pausedUntilTicks, until.UtcTicks, current) != current);
    }

    /// <summary>A request succeeded: the breaker closes.</summary>
    public void RecordSuccess()
    {
        bool wasOpen;
        lock (_lock)
        {
            wasOpen = _consecutiveFailures >= options.CircuitBreakerFailureThreshold;
            _consecutiveFailures = 0;
            _circuitOpenUntil = DateTimeOffset.MinValue;
        }

        Answered.Pulse();
        if (wasOpen)
        {
            Log.CircuitClosed(logger);
        }
    }

    /// <summary>A batch failed after its retries (or the backend refused every part of it): the breaker counts it.</summary>
    public void RecordFailure()
    {
        Interlocked.Exchange(ref _lastFailureTimestamp, timeProvider.GetTimestamp());
        lock (_lock)
        {
            var now = timeProvider.GetUtcNow();
            _consecutiveFailures++;
            if (_consecutiveFailures < options.CircuitBreakerFailureThreshold || now < _circuitOpenUntil)
            {
                return;
            }

            _circuitOpenUntil = now + options.CircuitBreakDuration;
        }

        Log.CircuitOpened(logger, options.CircuitBreakDuration, circuitFate);
    }

    /// <summary>The backend refused the key; returns true the first time.</summary>
    public bool RefuseKey(int status) => Interlocked.CompareExchange(ref _keyRefusedStatus, status == 0 ? 401 : status, 0) == 0;

    public void AwaitStartupCheck(Task check) => Volatile.Write(ref _startupChecked, check);

    public void Disable(string reason) => Interlocked.CompareExchange(ref _disabledReason, reason, null);

    public void RequestStalled() => Interlocked.Increment(ref _stalledRequests);

    public void StalledRequestEnded() => Interlocked.Decrement(ref _stalledRequests);
}
