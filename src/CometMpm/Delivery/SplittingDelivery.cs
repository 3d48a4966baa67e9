using CometMpm.Diagnostics;
using CometMpm.Serialization;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Delivery;

/// <summary>
/// The first link: a payload the backend refuses (400, 413, 422) or that is over <see cref="CometMpmOptions.MaxRequestBytes"/>
/// is split in halves until the bad events are isolated and dropped (<c>invalid</c>) and the others are delivered. A
/// part that fails with a connection error while its sibling went through is split the same way (a proxy that resets
/// oversized bodies). The work is bounded: a payload starts with <see cref="RequestBudget"/> requests and earns as
/// many again each time a part is delivered (the backend takes events, so splitting pays off), so a few bad events
/// among many are all isolated while a backend that refuses everything sees a few requests per batch, not two per
/// event. What is left when the budget runs out comes back unsent as a failure, which the breaker counts (and the
/// outbox keeps, when there is one). An exception in a part is caught here, so the parts already delivered stay
/// counted as delivered.
/// </summary>
internal sealed class SplittingDelivery(IBatchDelivery inner, SendGate gate, TimeProvider timeProvider, ILogger logger) : IBatchDelivery
{
    private readonly LogThrottle _refusedLog = new(timeProvider, TimeSpan.FromSeconds(30));
    private readonly LogThrottle _errorLog = new(timeProvider, TimeSpan.FromSeconds(30));

    /// <summary>Enough to isolate one bad event among <paramref name="count"/> (2·log2(count) + 1 requests), with room to spare.</summary>
    internal static int RequestBudget(int count) => (2 * (int)Math.Ceiling(Math.Log2(Math.Max(count, 2)))) + 4;

    public async ValueTask<DeliveryReport> DeliverAsync(BatchPayload payload, CancellationToken cancellationToken) =>
        await DeliverPartAsync(payload, new Budget(RequestBudget(payload.Count)), cancellationToken).ConfigureAwait(false);

    private async ValueTask<DeliveryReport> DeliverPartAsync(BatchPayload part, Budget budget, CancellationToken cancellationToken)
    {
        budget.Left--;
        DeliveryReport report;
        try
        {
            report = await inner.DeliverAsync(part, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested || ex is not OperationCanceledException)
        {
            if (_errorLog.ShouldLog(out var suppressed))
            {
                Log.InternalError(logger, ex, "the delivery of a batch", part.Count, suppressed);
            }

            return DeliveryReport.OfUnsent(part, SendStatus.InternalError, 0, $"{ex.GetType().Name}: {ex.Message}");
        }

        if (report.Delivered > 0)
        {
            budget.AnyDelivered = true;
            budget.Left += budget.Initial;
        }

        var splittable = report.UnsentStatus is SendStatus.Refused or SendStatus.TooLarge
            || (report.UnsentStatus == SendStatus.Failed && report.HttpStatus == 0 && budget.AnyDelivered);
        if (report.Unsent.Count != 1 || !splittable)
        {
            return report;
        }

        if (part.Count == 1)
        {
            return report.UnsentStatus == SendStatus.Failed ? report : Refuse(part, report);
        }

        if (budget.Left < 2)
        {
            if (!budget.Exhausted && !budget.AnyDelivered)
            {
                budget.Exhausted = true;
                gate.RecordFailure(); // once per payload: a backend that refuses everything opens the circuit
            }

            return DeliveryReport.OfUnsent(part, SendStatus.Failed, report.HttpStatus, $"splitting ran out of its request budget while the backend refused parts ({report.Detail})");
        }

        var (first, second) = part.Halve();
        var result = await DeliverPartAsync(first, budget, cancellationToken).ConfigureAwait(false);
        if (result.UnsentStatus is SendStatus.Failed or SendStatus.KeyRefused or SendStatus.GateClosed or SendStatus.Disabled or SendStatus.Cancelled)
        {
            return result.AlsoUnsent(second); // the backend is unreachable or refuses us: the second half would fare no better
        }

        return result.Add(await DeliverPartAsync(second, budget, cancellationToken).ConfigureAwait(false));
    }

    private DeliveryReport Refuse(BatchPayload single, DeliveryReport report)
    {
        var id = single.PredictionIdAt(0);
        if (_refusedLog.ShouldLog(out var suppressed))
        {
            Log.PoisonEvent(logger, id, suppressed == 0 ? report.Detail : $"{report.Detail} ({suppressed} more refused events not logged)");
        }

        return DeliveryReport.OfDropped(single, DropReason.Invalid, report.UnsentStatus == SendStatus.TooLarge
            ? $"The {single.KindName} event {id} is larger than CometMpm:MaxRequestBytes on its own ({report.Detail})."
            : $"The backend refused the {single.KindName} event {id} ({DropReason.Invalid}). Error: {report.Detail}");
    }

    private sealed class Budget(int requests)
    {
        public int Initial { get; } = requests;

        public int Left { get; set; } = requests;

        public bool AnyDelivered { get; set; }

        public bool Exhausted { get; set; }
    }
}
