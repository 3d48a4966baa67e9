using CometMpm.Diagnostics;
using CometMpm.Serialization;
using Microsoft.Extensions.Logging;

namespace CometMpm.Delivery;

/// <summary>
/// Turns delivery reports into ledger entries, error-store records and (rate-limited) warnings: the one place where the
/// loops settle what the chain did. Live events and events replayed from the outbox are settled apart, so the ledger
/// can tell "not delivered straight away" from "given up".
/// </summary>
internal sealed class Settlement(SettlementLedger ledger, LoggingErrorStore errors, TimeProvider timeProvider, ILogger logger)
{
    private readonly LogThrottle _failureLog = new(timeProvider, TimeSpan.FromSeconds(30));

    public SettlementLedger Ledger => ledger;

    /// <summary>Settles a report of fresh events; unsent parts are dropped under the reason their status maps to.</summary>
    public void SettleLive(DeliveryReport report)
    {
        ledger.Delivered(report.Delivered);
        ledger.Spilled(report.Spilled);
        foreach (var dropped in report.Dropped)
        {
            Drop(dropped.Payload, dropped.Reason, dropped.Detail, fromOutbox: false);
        }

        foreach (var unsent in report.Unsent)
        {
            Drop(unsent, ReasonFor(report), report.Detail, fromOutbox: false);
        }
    }

    /// <summary>Settles what replay delivered or gave up; unsent parts stay in the outbox (the caller keeps them).</summary>
    public void SettleFromOutbox(DeliveryReport report)
    {
        ledger.DeliveredFromOutbox(report.Delivered);
        foreach (var dropped in report.Dropped)
        {
            Drop(dropped.Payload, dropped.Reason, dropped.Detail, fromOutbox: true);
        }
    }

    public void Drop(BatchPayload payload, string reason, string detail, bool fromOutbox)
    {
        if (fromOutbox)
        {
            ledger.DroppedFromOutbox(payload.Count, reason);
        }
        else
        {
            ledger.Dropped(payload.Count, reason);
        }

        var path = payload.IsLabels ? "labels/batch" : "events/batch";
        errors.Add($"Error sending batch data to the backend. {payload.Count} {payload.KindName} events to {path} were not delivered ({reason}). Error: {detail}", payload.Count, payload.PredictionIds(100));
        if (reason != DropReason.Invalid && _failureLog.ShouldLog(out var suppressed))
        {
            Log.BatchFailed(logger, payload.Count, payload.KindName, path, reason, suppressed == 0 ? detail : $"{detail} ({suppressed} similar messages suppressed)");
        }
    }

    public static string ReasonFor(DeliveryReport report) => report.UnsentStatus switch
    {
        SendStatus.KeyRefused => DropReason.Unauthorized,
        SendStatus.GateClosed when report.HttpStatus is 401 or 403 => DropReason.Unauthorized,
        SendStatus.Cancelled => DropReason.Shutdown,
        SendStatus.Disabled => DropReason.Disabled,
        SendStatus.InternalError => DropReason.InternalError,
        _ => DropReason.SendFailed,
    };
}
