using System.Collections.Concurrent;
using CometMpm.Diagnostics;
using CometMpm.Persistence;
using CometMpm.Serialization;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Delivery;

/// <summary>
/// The outbox link, first in the chain: whatever the links after it cannot place now (a failure after the retries, the
/// key refused, the end timeout, the splitting budget spent) goes to disk instead of being dropped, and nothing waits
/// in memory for longer than the spill interval while the backend is not answering with success. Concretely:
/// <list type="bullet">
/// <item>while the gate is closed, a request is stalled or a <c>Retry-After</c> pause outlasts the interval, the batch
/// is written at once, without a request;</item>
/// <item>the parts of a batch that come back unsent are written;</item>
/// <item>a batch still in the hands of the next links after the interval (a slow or silent backend, retries or a
/// bisection under way, the start-up check not answered) is journaled in this process's lease folder and counted as
/// spilled; the delivery goes on in the background, and its outcome is settled as from the outbox: the journal is
/// deleted, or replaced by the parts still to send.</item>
/// </list>
/// </summary>
internal sealed class OutboxDelivery(
    IBatchDelivery inner,
    Outbox outbox,
    SendGate gate,
    Settlement settlement,
    TimeSpan spillAfter,
    TimeProvider timeProvider,
    ILogger logger) : IBatchDelivery
{
    private readonly BatchSerializer _serializer = new(); // the worker calls this link one batch at a time
    private readonly LogThrottle _spillLog = new(timeProvider, TimeSpan.FromSeconds(30));
    private readonly ConcurrentDictionary<Task, byte> _inFlight = new();

    /// <summary>Completes when the requests left in flight in the background have answered (or were cancelled).</summary>
    public Task InFlight => Task.WhenAll(_inFlight.Keys);

    public async ValueTask<DeliveryReport> DeliverAsync(BatchPayload payload, CancellationToken cancellationToken)
    {
        if (SpillAtOnce() is { } reason)
        {
            return Spill(payload, reason);
        }

        var send = inner.DeliverAsync(payload, cancellationToken).AsTask();
        if (!send.IsCompleted)
        {
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            await Task.WhenAny(send, Task.Delay(spillAfter, timeProvider, timer.Token)).ConfigureAwait(false);
            await timer.CancelAsync().ConfigureAwait(false);
            if (!send.IsCompleted && Journal(payload, send))
            {
                return DeliveryReport.OfSpilled(payload.Count);
            }
        }

        var report = await send.ConfigureAwait(false);
        if (report.UnsentStatus == SendStatus.Disabled)
        {
            return report; // a disabled client keeps nothing, as in the Python SDK: the events are dropped (disabled)
        }

        var detail = report.Detail;
        foreach (var part in report.TakeUnsent())
        {
            report.Add(Spill(part, detail));
        }

        return report;
    }

    private string? SpillAtOnce()
    {
        if (gate.IsDisabled)
        {
            return null; // the next links report it; a disabled client's events are dropped, not kept
        }

        if (gate.Closed() is { } closed)
        {
            return closed;
        }

        if (gate.StalledRequests > 0)
        {
            return "a request has had no answer for longer than CometMpm:Outbox:SpillInterval";
        }

        return gate.PausedUntil - timeProvider.GetUtcNow() > spillAfter ? $"the backend asked to wait until {gate.PausedUntil:O} (Retry-After)" : null;
    }

    private DeliveryReport Spill(BatchPayload payload, string reason)
    {
        try
        {
            outbox.Write(payload.Kind, payload.Count, payload.Serialize(_serializer));
            outbox.NoteFault(null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            outbox.NoteFault($"could not write to {outbox.Directory}: {ex.Message}");
            Log.OutboxWriteFailed(logger, outbox.Directory, ex.Message, payload.Count);
            return DeliveryReport.OfUnsent(payload, SendStatus.Failed, 0, $"{reason}; and the outbox could not be written: {ex.Message}");
        }

        if (_spillLog.ShouldLog())
        {
            Log.Spilled(logger, payload.Count, payload.KindName, reason);
        }

        return DeliveryReport.OfSpilled(payload.Count);
    }

    /// <summary>Writes the batch of a request still in flight to this process's lease folder; false when the disk refused.</summary>
    private bool Journal(BatchPayload payload, Task<DeliveryReport> send)
    {
        LeasedBatch lease;
        try
        {
            lease = outbox.Journal(payload.Kind, payload.Count, payload.Serialize(_serializer));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            outbox.NoteFault($"could not write to {outbox.Directory}: {ex.Message}");
            return false; // the batch stays in memory until its request answers
        }

        gate.RequestStalled();
        if (_spillLog.ShouldLog())
        {
            Log.Spilled(logger, payload.Count, payload.KindName, "no answer within CometMpm:Outbox:SpillInterval; the request goes on");
        }

        var finishing = FinishAsync(send, lease);
        _inFlight.TryAdd(finishing, 0);
        _ = finishing.ContinueWith(t => _inFlight.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return true;
    }

    private async Task FinishAsync(Task<DeliveryReport> send, LeasedBatch lease)
    {
        try
        {
            var report = await send.ConfigureAwait(false);
            var detail = report.Detail;
            var disabled = report.UnsentStatus == SendStatus.Disabled ? report.TakeUnsent() : []; // journaled while the check was pending

            // The file is changed first, then the ledger: if the disk fails in between, the batch is replayed again
            // later (a harmless resend) rather than settled twice.
            if (report.Unsent.Count == 0)
            {
                outbox.Complete(lease);
            }
            else if (report.Settled == 0)
            {
                outbox.Release(lease, strikes: 0); // replay retries it, and splits it if it keeps failing
                return;
            }
            else
            {
                var serializer = new BatchSerializer(); // not the worker's: this runs beside it
                outbox.Replace(lease, [.. report.Unsent.Select(part => (part.Count, (ReadOnlyMemory<byte>)part.Serialize(serializer).ToArray()))]);
            }

            foreach (var part in disabled)
            {
                settlement.Drop(part, DropReason.Disabled, detail, fromOutbox: true);
            }

            settlement.SettleFromOutbox(report);
        }
        catch (Exception ex)
        {
            // The file stays on disk for replay (or, failing that, until the outbox is disposed or this process dies).
            outbox.NoteFault($"a journaled batch could not be settled: {ex.Message}");
            OutboxFiles.TryIo(() => outbox.Release(lease, strikes: 0));
        }
        finally
        {
            gate.StalledRequestEnded();
        }
    }
}
