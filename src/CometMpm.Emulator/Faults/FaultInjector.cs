namespace CometMpm.Emulator.Faults;

/// <summary>What the fault plan asks for one ingestion request.</summary>
internal readonly record struct FaultDecision(int LatencyMs, bool Drop, int? Status, string? RetryAfter, string? Description);

/// <summary>Holds the current fault plan and decides, request by request, which fault applies.</summary>
internal sealed class FaultInjector
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private EmulatorFaultPlan _plan = new();
    private HashSet<string> _rejected = new(StringComparer.Ordinal);
    private int _remainingNext;
    private long _nextApplied;
    private long _latencyApplied;
    private long _dropped;
    private long _outageApplied;
    private long _rejectedApplied;

    public FaultInjector(TimeProvider time) => _time = time;

    /// <summary>Checks a plan; returns the problem, or null when it is valid.</summary>
    public static string? Check(EmulatorFaultPlan plan)
    {
        if (plan.NextRequests is { } next && (next.Count < 0 || next.Status is < 100 or > 599))
        {
            return "nextRequests: count must be >= 0 and status between 100 and 599";
        }

        if (plan.LatencyMs is < 0 or > 600_000)
        {
            return "latencyMs must be between 0 and 600000";
        }

        if (plan.DropConnectionProbability is < 0 or > 1)
        {
            return "dropConnectionProbability must be between 0 and 1";
        }

        if (plan.Outage is { } outage && (outage.ToUtc <= outage.FromUtc || outage.Status is < 100 or > 599))
        {
            return "outage: toUtc must be after fromUtc and status between 100 and 599";
        }

        return null;
    }

    public void Set(EmulatorFaultPlan plan)
    {
        lock (_lock)
        {
            _plan = plan;
            _rejected = new HashSet<string>(plan.RejectPredictionIds ?? [], StringComparer.Ordinal);
            _remainingNext = plan.NextRequests?.Count ?? 0;
            _nextApplied = _latencyApplied = _dropped = _outageApplied = _rejectedApplied = 0;
        }
    }

    public void Clear() => Set(new EmulatorFaultPlan());

    public EmulatorFaultState State
    {
        get
        {
            lock (_lock)
            {
                return new EmulatorFaultState(_plan, _remainingNext,
                    new EmulatorFaultCounts(_nextApplied, _latencyApplied, _dropped, _outageApplied, _rejectedApplied));
            }
        }
    }

    /// <summary>Decides the fault of one ingestion request (and counts it).</summary>
    public FaultDecision Next()
    {
        lock (_lock)
        {
            var latency = _plan.LatencyMs ?? 0;
            if (latency > 0)
            {
                _latencyApplied++;
            }

            if (_plan.Outage is { } outage)
            {
                var now = _time.GetUtcNow();
                if (now >= outage.FromUtc && now < outage.ToUtc)
                {
                    _outageApplied++;
                    return new FaultDecision(latency, false, outage.Status, outage.RetryAfter, $"outage {outage.Status}");
                }
            }

            if (_remainingNext > 0 && _plan.NextRequests is { } next)
            {
                _remainingNext--;
                _nextApplied++;
                return new FaultDecision(latency, false, next.Status, next.RetryAfter, $"nextRequests {next.Status}");
            }

            if (_plan.DropConnectionProbability is > 0 and var p && Random.Shared.NextDouble() < p)
            {
                _dropped++;
                return new FaultDecision(latency, true, null, null, "dropConnection");
            }

            return new FaultDecision(latency, false, null, null, latency > 0 ? $"latency {latency} ms" : null);
        }
    }

    /// <summary>Whether the plan rejects this prediction id (counted when it does).</summary>
    public bool Rejects(string predictionId)
    {
        lock (_lock)
        {
            if (_rejected.Count == 0 || !_rejected.Contains(predictionId))
            {
                return false;
            }

            _rejectedApplied++;
            return true;
        }
    }
}
