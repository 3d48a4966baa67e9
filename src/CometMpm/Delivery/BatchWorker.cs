using CometMpm.Diagnostics;
using CometMpm.Events;
using CometMpm.Queue;
using CometMpm.Serialization;
using CometMpm.Threading;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Delivery;

/// <summary>
/// The background loop of fresh events: it reads the queue into batches (by size, and by time measured with the
/// injected <see cref="TimeProvider"/>), splits each into predictions and labels (call order kept within each,
/// protocol §5.2), hands them to the delivery chain and settles what the chain reports. It knows only
/// <see cref="IBatchDelivery"/>. It never dies: an unexpected exception settles the events in hand as
/// <c>internal_error</c> (logged with the exception, rate-limited) and the loop goes on.
/// </summary>
internal sealed class BatchWorker(
    EventQueue queue,
    IBatchDelivery delivery,
    Settlement settlement,
    SendGate gate,
    CometMpmOptions options,
    bool hasOutbox,
    TimeProvider timeProvider,
    ILogger logger)
{
    private readonly LogThrottle _errorLog = new(timeProvider, TimeSpan.FromSeconds(30));
    private readonly List<BatchPayload> _inHand = [];
    private long _flushTarget;
    private int _inHandCount;

    /// <summary>While the backend is in trouble (and there is an outbox), a batch waits at most this long to fill.</summary>
    private readonly TimeSpan _troubleBatchTime = Min(options.MaxBatchTime, options.Outbox.SpillInterval / 2);

    /// <summary>Wakes the worker when a flush is asked for or the queue is completed.</summary>
    public AsyncSignal Wake { get; } = new();

    /// <summary>Events taken from the queue and not settled yet.</summary>
    public int InHand => Volatile.Read(ref _inHandCount);

    /// <summary>Asks for everything accepted so far to be sent without waiting for the batch time.</summary>
    public void RequestFlush(long acceptedSoFar)
    {
        long current;
        do
        {
            current = Interlocked.Read(ref _flushTarget);
            if (current >= acceptedSoFar)
            {
                break;
            }
        }
        while (Interlocked.CompareExchange(ref _flushTarget, acceptedSoFar, current) != current);

        Wake.Pulse();
    }

    /// <summary>Runs until the queue is completed and empty, or <paramref name="abort"/> fires (the end timeout ran out).</summary>
    public async Task RunAsync(CancellationToken abort)
    {
        var batch = new List<MpmEvent>(Math.Min(options.MaxBatchSize, 4096));
        while (!abort.IsCancellationRequested)
        {
            try
            {
                if (!await FillAsync(batch, abort).ConfigureAwait(false))
                {
                    break; // completed and empty
                }

                await DeliverAsync(batch, abort).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                break; // a batch being filled is kept: it goes through the chain below
            }
            catch (Exception ex)
            {
                HandOver(batch); // events read but not yet handed over are settled with the rest
                SettleInHand(DropReason.InternalError, $"{ex.GetType().Name}: {ex.Message}", ex);
            }
        }

        // The end timeout ran out: what is in hand, being filled and still queued goes through the chain with the
        // cancelled token, which writes it to the outbox or reports it unsent (counted as shutdown).
        while (queue.TryRead(out var left))
        {
            Take(batch, left);
        }

        try
        {
            HandOver(batch);
            await DeliverInHandAsync(abort).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            SettleInHand(DropReason.InternalError, $"{ex.GetType().Name}: {ex.Message}", ex);
        }
    }

    /// <summary>Fills <paramref name="batch"/>; false when the queue is completed and empty.</summary>
    private async Task<bool> FillAsync(List<MpmEvent> batch, CancellationToken abort)
    {
        MpmEvent? first;
        while (!queue.TryRead(out first))
        {
            if (!await queue.WaitToReadAsync(abort).ConfigureAwait(false))
            {
                return false;
            }
        }

        Take(batch, first);
        var started = timeProvider.GetTimestamp();
        var max = options.MaxBatchSize;
        var woken = false;
        while (true)
        {
            while (batch.Count < max && queue.TryRead(out var next))
            {
                Take(batch, next);
            }

            var wake = Wake.WaitTask;

            // Send now when the batch is full, the queue is ending, or a flush waits for events accepted before it.
            if (batch.Count >= max || queue.IsCompleted || Interlocked.Read(ref _flushTarget) > settlement.Ledger.Settled)
            {
                return true;
            }

            // While the backend is not answering with success, events wait in memory only briefly before they go to disk.
            var batchTime = hasOutbox && gate.InTrouble ? _troubleBatchTime : options.MaxBatchTime;
            var remaining = batchTime - timeProvider.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                return true;
            }

            // Wake on the next event once, then only when the batch can be filled (waking on every event cost the
            // request path several µs per event under load); and when the batch time is up, on a flush or completion.
            using var waitCancellation = CancellationTokenSource.CreateLinkedTokenSource(abort);
            var filled = queue.WaitForCountAsync(woken ? max - batch.Count : 1);
            woken = true;
            var batchTimeElapsed = Task.Delay(remaining, timeProvider, waitCancellation.Token);
            var completed = await Task.WhenAny(filled, batchTimeElapsed, wake).ConfigureAwait(false);
            await waitCancellation.CancelAsync().ConfigureAwait(false);
            abort.ThrowIfCancellationRequested();
            if (completed == batchTimeElapsed)
            {
                return true;
            }
        }
    }

    private Task DeliverAsync(List<MpmEvent> batch, CancellationToken abort)
    {
        HandOver(batch);
        return DeliverInHandAsync(abort);
    }

    /// <summary>An event leaves the queue: it is in hand (pending in the ledger) from now until it is settled.</summary>
    private void Take(List<MpmEvent> batch, MpmEvent mpmEvent)
    {
        batch.Add(mpmEvent);
        Interlocked.Increment(ref _inHandCount);
    }

    /// <summary>Moves the batch (already counted in hand) into hand as one payload of predictions and one of labels.</summary>
    private void HandOver(List<MpmEvent> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var kind = batch[0].Kind;
        var oneKind = true;
        foreach (var item in batch)
        {
            oneKind &= item.Kind == kind;
        }

        if (oneKind)
        {
            // The common case, one kind: one array for the payload and nothing else.
            _inHand.Add(new EventPayload(kind, batch.ToArray()));
            batch.Clear();
            return;
        }

        var predictions = new List<MpmEvent>(batch.Count);
        var labels = new List<MpmEvent>();
        foreach (var item in batch)
        {
            (item.Kind == MpmEventKind.Label ? labels : predictions).Add(item);
        }

        batch.Clear();
        foreach (var events in new[] { predictions, labels })
        {
            if (events.Count > 0)
            {
                _inHand.Add(new EventPayload(events[0].Kind, events.ToArray()));
            }
        }
    }

    private async Task DeliverInHandAsync(CancellationToken abort)
    {
        while (_inHand.Count > 0)
        {
            var payload = _inHand[0];
            if (gate.DisabledReason is { } disabled)
            {
                TakeFirst(payload);
                settlement.Drop(payload, DropReason.Disabled, "the start-up check disabled the client: " + disabled, fromOutbox: false);
                continue;
            }

            // In hand (and pending in the ledger) while the chain works on it; out of hand before it is settled, so that
            // a failure while settling can never settle it twice.
            var report = await delivery.DeliverAsync(payload, abort).ConfigureAwait(false);
            TakeFirst(payload);

            // Without an outbox a batch that meets an open circuit waits for it to close, then goes again; meanwhile
            // the bounded queue absorbs (and counts) the overflow.
            if (!hasOutbox && !abort.IsCancellationRequested && report.UnsentStatus is SendStatus.Failed or SendStatus.GateClosed && gate.IsCircuitOpen && !gate.IsKeyRefused)
            {
                var unsent = report.TakeUnsent();
                _inHand.InsertRange(0, unsent);
                Interlocked.Add(ref _inHandCount, unsent.Sum(p => p.Count));
                settlement.SettleLive(report);
                await Task.Delay(Max(gate.CircuitOpenUntil - timeProvider.GetUtcNow(), TimeSpan.FromMilliseconds(1)), timeProvider, abort).ConfigureAwait(false);
                continue;
            }

            settlement.SettleLive(report);
        }
    }

    private void TakeFirst(BatchPayload payload)
    {
        _inHand.RemoveAt(0);
        Interlocked.Add(ref _inHandCount, -payload.Count);
    }

    private void SettleInHand(string reason, string detail, Exception? exception)
    {
        var count = InHand;
        if (exception is not null && _errorLog.ShouldLog(out var suppressed))
        {
            Log.InternalError(logger, exception, "the batch worker", count, suppressed);
        }

        while (_inHand.Count > 0)
        {
            var payload = _inHand[0];
            _inHand.RemoveAt(0);
            settlement.Drop(payload, reason, detail, fromOutbox: false);
        }

        Interlocked.Exchange(ref _inHandCount, 0);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
