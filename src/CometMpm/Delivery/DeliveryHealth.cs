using CometMpm.Diagnostics;
using CometMpm.Persistence;
using CometMpm.Transport;

namespace CometMpm.Delivery;

/// <summary>How well delivery goes for one client.</summary>
internal enum CometMpmHealth
{
    Healthy,
    Degraded,
    Unhealthy,
}

/// <summary>
/// The client's health, read from the gate, the ledger and the outbox (nobody keeps a flag of their own): Unhealthy when
/// nothing can be delivered, or delivered durably as configured; Degraded while the backend fails, batches wait in the
/// outbox, the outbox cannot be read, or events were dropped in the last minute; Healthy otherwise.
/// </summary>
internal static class DeliveryHealth
{
    private static readonly TimeSpan TroubleWindow = TimeSpan.FromMinutes(1);

    public static (CometMpmHealth Status, string Description) Check(
        SendGate gate,
        SettlementLedger ledger,
        Outbox? outbox,
        string? outboxError,
        Task? loop,
        bool ending,
        TimeProvider timeProvider,
        Func<string> healthyDescription)
    {
        if (gate.IsKeyRefused)
        {
            return (CometMpmHealth.Unhealthy, $"The backend refused the API key (HTTP {gate.KeyRefusedStatus}); nothing is sent. Fix CometMpm:ApiKey and restart.");
        }

        if (gate.DisabledReason is { } disabled)
        {
            return (CometMpmHealth.Unhealthy, $"The start-up health check failed, so the client is disabled: {disabled}");
        }

        if (outboxError is not null)
        {
            return (CometMpmHealth.Unhealthy, outboxError);
        }

        if (loop is { IsCompleted: true } && !ending)
        {
            return (CometMpmHealth.Unhealthy, "The sender stopped unexpectedly; see the log.");
        }

        if (gate.IsCircuitOpen)
        {
            return (CometMpmHealth.Degraded, $"The backend keeps failing; sending paused until {gate.CircuitOpenUntil:O}.");
        }

        if (outbox?.Fault is { } fault)
        {
            return (CometMpmHealth.Degraded, $"The outbox has a problem ({fault}); it is retried with backoff.");
        }

        if (gate.StalledRequests > 0)
        {
            return (CometMpmHealth.Degraded, "A request to the backend has had no answer for longer than CometMpm:Outbox:SpillInterval.");
        }

        if (outbox is { Files: > 0 })
        {
            return (CometMpmHealth.Degraded, $"{outbox.Files} batches ({outbox.Events} events, {outbox.Bytes} bytes) wait in the outbox to be replayed.");
        }

        var lastDrop = ledger.LastDropTimestamp;
        if (gate.FailedWithin(TroubleWindow) || (lastDrop != 0 && timeProvider.GetElapsedTime(lastDrop) < TroubleWindow))
        {
            return (CometMpmHealth.Degraded, "Batches failed or events were dropped in the last minute; see the cometmpm.events.dropped metric and the log.");
        }

        return (CometMpmHealth.Healthy, healthyDescription());
    }
}
