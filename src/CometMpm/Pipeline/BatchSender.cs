using CometMpm.Diagnostics;
using CometMpm.Persistence;
using CometMpm.Serialization;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Pipeline;

/// <summary>
/// The background stage. It reads the queue into batches (by size and by time, measured with the injected
/// <see cref="TimeProvider"/>), splits each batch into predictions and labels, and delivers them through
/// the transport one request at a time. Delivery rules:
/// <list type="bullet">
/// <item>a 400/413/422 splits the batch in halves until the refused events are isolated; the others are delivered;</item>
/// <item>401/403 stops sending (the events go to the outbox, or are dropped as <c>unauthorized</c>);</item>
/// <item>after several batches fail in a row the circuit opens: no request for a while, batches go to the outbox
/// (or wait, without one);</item>
/// <item>the outbox is replayed, oldest first, by a second loop that never holds up fresh events.</item>
/// </list>
/// Every event is settled once: delivered, written to the outbox, or dropped under a reason.
/// </summary>
internal sealed class BatchSender(
    EventQueue queue,
    MpmTransport transport,
    CometMpmOptions options,
    TimeProvider timeProvider,
    CometMpmMetrics metrics,
    LoggingErrorStore errors,
    Outbox? outbox,
    ILogger logger)
{
    private static readonly TimeSpan MaintenanceInterval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan TroubleWindow = TimeSpan.FromMinutes(1);
    private readonly BatchSerializer _serializer = new();
    private readonly BatchSerializer _replaySerializer = new();
    private readonly List<MpmEvent> _predictions = [];
    private readonly List<MpmEvent> _labels = [];
    private readonly Lock _circuitLock = new();
    private readonly LogThrottle _failureLogThrottle = new(timeProvider, TimeSpan.FromSeconds(30));
    private readonly LogThrottle _spillLogThrottle = new(timeProvider, TimeSpan.FromSeconds(30));
    private long _flushTarget;
    private long _shutdownDropped;
    private int _consecutiveFailures;
    private DateTimeOffset _circuitOpenUntil = DateTimeOffset.MinValue;
    private int _unauthorizedStatus;
    private long _lastTroubleTimestamp;

    /// <summary>Wakes the sender when a flush is asked for or the queue is completed.</summary>
    public AsyncSignal Wake { get; } = new();

    /// <summary>Wakes the replay loop when the backend answers again.</summary>
    public AsyncSignal BackendAnswered { get; } = new();

    /// <summary>Events dropped because the end timeout ran out.</summary>
    public long ShutdownDropped => Interlocked.Read(ref _shutdownDropped);

    public bool IsUnauthorized => Volatile.Read(ref _unauthorizedStatus) != 0;

    public bool IsCircuitOpen
    {
        get
        {
            lock (_circuitLock)
            {
                return timeProvider.GetUtcNow() < _circuitOpenUntil;
            }
        }
    }

    /// <summary>True when a batch failed or events were dropped within the last minute.</summary>
    public bool HadRecentTrouble
    {
        get
        {
            var last = Interlocked.Read(ref _lastTroubleTimestamp);
            return last != 0 && timeProvider.GetElapsedTime(last) < TroubleWindow;
        }
    }

    public DateTimeOffset CircuitOpenUntil
    {
        get
        {
            lock (_circuitLock)
            {
                return _circuitOpenUntil;
            }
        }
    }

    public int UnauthorizedStatus => Volatile.Read(ref _unauthorizedStatus);

    private int ConsecutiveFailures
    {
        get
        {
            lock (_circuitLock)
            {
                return _consecutiveFailures;
            }
        }
    }

    public void NoteTrouble() => Interlocked.Exchange(ref _lastTroubleTimestamp, timeProvider.GetTimestamp());

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
        try
        {
            while (true)
            {
                if (!queue.TryRead(out var first))
                {
                    if (!await queue.WaitToReadAsync(abort).ConfigureAwait(false))
                    {
                        break;
                    }

                    continue;
                }

                batch.Add(first);

                // While the backend is down, events wait in memory only briefly before they go to disk.
                var batchTime = outbox is not null && (IsCircuitOpen || IsUnauthorized)
                    ? Min(options.MaxBatchTime, options.Outbox.SpillInterval)
                    : options.MaxBatchTime;
                await FillAsync(batch, timeProvider.GetUtcNow() + batchTime, abort).ConfigureAwait(false);
                await SendBatchAsync(batch, abort).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            // The end timeout ran out: what is in hand and still queued is settled below.
        }

        while (queue.TryRead(out var left))
        {
            batch.Add(left);
        }

        SettleLeftovers(batch);
    }

    /// <summary>Replays the outbox, oldest batch first, while the backend answers; stops when <paramref name="stop"/> fires.</summary>
    public async Task ReplayAsync(CancellationToken stop)
    {
        if (outbox is null)
        {
            return;
        }

        var backoff = TimeSpan.FromSeconds(1);
        var probe = false;
        var lastMaintenance = timeProvider.GetTimestamp();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (IsUnauthorized)
                {
                    return; // nothing will get through until the key is fixed (a restart)
                }

                var answered = BackendAnswered.WaitTask;
                if (IsCircuitOpen)
                {
                    await WaitAnyAsync(answered, CircuitOpenUntil - timeProvider.GetUtcNow(), stop).ConfigureAwait(false);
                    continue;
                }

                if (timeProvider.GetElapsedTime(lastMaintenance) >= MaintenanceInterval)
                {
                    outbox.Maintain();
                    lastMaintenance = timeProvider.GetTimestamp();
                }

                // After a failure, replay waits for the backend to answer a fresh batch (or probes once per backoff),
                // so replaying never adds load to a backend that is failing.
                if (ConsecutiveFailures > 0 && !probe)
                {
                    await WaitAnyAsync(answered, backoff, stop).ConfigureAwait(false);
                    probe = true;
                    continue;
                }

                probe = false;
                var written = outbox.Written.WaitTask;
                var leased = outbox.LeaseOldest();
                if (leased is null)
                {
                    await WaitAnyAsync(Task.WhenAny(answered, written), MaintenanceInterval, stop).ConfigureAwait(false);
                    continue;
                }

                if (await ReplayOneAsync(leased, stop).ConfigureAwait(false))
                {
                    backoff = TimeSpan.FromSeconds(1);
                }
                else
                {
                    backoff = Min(backoff * 2, Max(options.CircuitBreakDuration, TimeSpan.FromSeconds(1)));
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task<bool> ReplayOneAsync(LeasedBatch leased, CancellationToken stop)
    {
        var delivery = await DeliverAsync(leased.Payload, _replaySerializer, stop).ConfigureAwait(false);
        metrics.Sent(delivery.Delivered);
        if (delivery.Unsent.Count == 0)
        {
            outbox!.Complete(leased);
            RecordSuccess();
            Log.Replayed(logger, leased.Count, leased.Path);
            return true;
        }

        if (delivery.Delivered + delivery.Invalid == 0)
        {
            outbox!.Release(leased);
        }
        else
        {
            // Part got through: keep only the rest.
            foreach (var rest in delivery.Unsent)
            {
                outbox!.Write(rest.Kind, rest.Count, rest.Serialize(_replaySerializer));
            }

            outbox!.Complete(leased);
        }

        if (delivery.Reason == DropReason.Unauthorized)
        {
            MarkUnauthorized(delivery.Status);
        }
        else if (delivery.Reason != DropReason.Shutdown)
        {
            RecordFailure();
        }

        return false;
    }

    private async Task FillAsync(List<MpmEvent> batch, DateTimeOffset deadline, CancellationToken abort)
    {
        var max = options.MaxBatchSize;
        var woken = false;
        while (true)
        {
            while (batch.Count < max && queue.TryRead(out var next))
            {
                batch.Add(next);
            }

            if (batch.Count >= max)
            {
                return;
            }

            var wake = Wake.WaitTask;

            // Send now when the queue is ending or a flush waits for events accepted before it.
            if (queue.IsCompleted || Interlocked.Read(ref _flushTarget) > queue.Settled)
            {
                return;
            }

            var remaining = deadline - timeProvider.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                return;
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
                return;
            }
        }
    }

    private async Task SendBatchAsync(List<MpmEvent> batch, CancellationToken abort)
    {
        // Predictions first, then labels, call order kept within each (protocol §5.2).
        _predictions.Clear();
        _labels.Clear();
        foreach (var item in batch)
        {
            (item.Kind == MpmEventKind.Label ? _labels : _predictions).Add(item);
        }

        batch.Clear();
        var predictions = _predictions.ToArray();
        var labels = _labels.ToArray();
        _predictions.Clear();
        _labels.Clear();
        await SendLiveAsync(new EventPayload(MpmEventKind.Prediction, predictions), abort).ConfigureAwait(false);
        await SendLiveAsync(new EventPayload(MpmEventKind.Label, labels), abort).ConfigureAwait(false);
        abort.ThrowIfCancellationRequested();
    }

    private async Task SendLiveAsync(EventPayload payload, CancellationToken abort)
    {
        if (payload.Count == 0)
        {
            return;
        }

        var pending = new List<BatchPayload> { payload };
        try
        {
            await SendPendingAsync(pending, abort).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            // The end timeout ran out while a batch waited for the backend: it goes to the outbox or is counted.
            foreach (var rest in pending)
            {
                SpillOrDrop(rest, DropReason.Shutdown, "the end timeout ran out");
            }

            throw;
        }
    }

    private async Task SendPendingAsync(List<BatchPayload> pending, CancellationToken abort)
    {
        while (pending.Count > 0)
        {
            var current = pending[0];
            if (IsUnauthorized)
            {
                pending.RemoveAt(0);
                SpillOrDrop(current, DropReason.Unauthorized, $"the backend refused the API key (HTTP {UnauthorizedStatus})");
                continue;
            }

            if (IsCircuitOpen)
            {
                if (outbox is not null)
                {
                    pending.RemoveAt(0);
                    SpillOrDrop(current, DropReason.SendFailed, "the backend keeps failing (circuit open)");
                    continue;
                }

                // Without an outbox the batch waits for the backend; meanwhile the bounded queue absorbs (and counts) the overflow.
                await Task.Delay(Max(CircuitOpenUntil - timeProvider.GetUtcNow(), TimeSpan.Zero), timeProvider, abort).ConfigureAwait(false);
            }

            var started = timeProvider.GetTimestamp();
            var delivery = await DeliverAsync(current, _serializer, abort).ConfigureAwait(false);
            pending.RemoveAt(0);
            metrics.BatchDuration(timeProvider.GetElapsedTime(started));
            if (delivery.Delivered > 0)
            {
                metrics.Sent(delivery.Delivered);
                queue.Settle(delivery.Delivered, delivered: true);
            }

            if (delivery.Invalid > 0)
            {
                queue.Settle(delivery.Invalid, delivered: false);
            }

            if (delivery.Unsent.Count == 0)
            {
                RecordSuccess();
                continue;
            }

            switch (delivery.Reason)
            {
                case DropReason.Shutdown:
                    foreach (var rest in delivery.Unsent)
                    {
                        SpillOrDrop(rest, DropReason.Shutdown, "the end timeout ran out");
                    }

                    break;
                case DropReason.Unauthorized:
                    MarkUnauthorized(delivery.Status);
                    pending.InsertRange(0, delivery.Unsent);
                    break;
                default:
                    RecordFailure();
                    if (IsCircuitOpen && outbox is null)
                    {
                        pending.InsertRange(0, delivery.Unsent); // wait for the backend, then try again
                    }
                    else
                    {
                        foreach (var rest in delivery.Unsent)
                        {
                            SpillOrDrop(rest, DropReason.SendFailed, delivery.Detail);
                        }
                    }

                    break;
            }
        }
    }

    /// <summary>
    /// Sends a payload, splitting it when it is too large or refused, until every event is delivered, isolated
    /// as invalid, or left unsent for a reason that splitting cannot fix.
    /// </summary>
    private async Task<Delivery> DeliverAsync(BatchPayload payload, BatchSerializer serializer, CancellationToken cancellationToken)
    {
        var body = await payload.SerializeAsync(serializer).ConfigureAwait(false);
        if (body.Length > options.MaxRequestBytes && payload.Count > 1)
        {
            return await DeliverHalvesAsync(payload, serializer, cancellationToken).ConfigureAwait(false);
        }

        var result = await transport.PostJsonAsync(payload.Path, body, cancellationToken).ConfigureAwait(false);
        metrics.Request(result.IsSuccess ? "success" : result.Cancelled ? DropReason.Shutdown : result.StatusCode == 0 ? "error" : result.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (result.IsSuccess)
        {
            return Delivery.Of(delivered: payload.Count);
        }

        if (result.IsRejected && !result.Cancelled)
        {
            if (payload.Count > 1)
            {
                return await DeliverHalvesAsync(payload, serializer, cancellationToken).ConfigureAwait(false);
            }

            var id = payload.PredictionIdAt(0);
            Log.PoisonEvent(logger, id, result.Detail);
            errors.Add($"The backend refused the {(payload.Kind == MpmEventKind.Label ? "label" : "prediction")} event {id} ({DropReason.Invalid}). Error: {result.Detail}", 1, [id]);
            metrics.Dropped(DropReason.Invalid);
            NoteTrouble();
            return Delivery.Of(invalid: 1);
        }

        var reason = result.Cancelled ? DropReason.Shutdown : result.IsUnauthorized ? DropReason.Unauthorized : DropReason.SendFailed;
        return Delivery.Failed(payload, reason, result.StatusCode, result.Detail);
    }

    private async Task<Delivery> DeliverHalvesAsync(BatchPayload payload, BatchSerializer serializer, CancellationToken cancellationToken)
    {
        var (first, second) = payload.Halve();
        var a = await DeliverAsync(first, serializer, cancellationToken).ConfigureAwait(false);
        if (a.Reason is not null)
        {
            // The backend is unreachable or refuses us: the second half would fare no better.
            return a.With(second);
        }

        var b = await DeliverAsync(second, serializer, cancellationToken).ConfigureAwait(false);
        return a.Plus(b);
    }

    private void SpillOrDrop(BatchPayload payload, string reason, string detail)
    {
        NoteTrouble();
        if (outbox is not null)
        {
            try
            {
                outbox.Write(payload.Kind, payload.Count, payload.Serialize(_serializer));
                if (_spillLogThrottle.ShouldLog())
                {
                    Log.Spilled(logger, payload.Count, KindName(payload), reason);
                }

                queue.Settle(payload.Count, delivered: false);
                return;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Log.OutboxWriteFailed(logger, outbox.Directory, ex.Message, payload.Count);
                reason = DropReason.SendFailed;
            }
        }

        if (reason == DropReason.Shutdown)
        {
            Interlocked.Add(ref _shutdownDropped, payload.Count);
        }

        metrics.Dropped(reason, payload.Count);
        var message = $"Error sending batch data to the backend. {payload.Count} {KindName(payload)} events to {payload.Path} were not delivered ({reason}). Error: {detail}";
        errors.Add(message, payload.Count, payload.PredictionIds(100));
        if (_failureLogThrottle.ShouldLog(out var suppressed))
        {
            Log.BatchFailed(logger, payload.Count, KindName(payload), payload.Path, reason, suppressed == 0 ? detail : $"{detail} ({suppressed} similar messages suppressed)");
        }

        queue.Settle(payload.Count, delivered: false);
    }

    private void SettleLeftovers(List<MpmEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        var predictions = events.Where(e => e.Kind == MpmEventKind.Prediction).ToArray();
        var labels = events.Where(e => e.Kind == MpmEventKind.Label).ToArray();
        foreach (var payload in new[] { new EventPayload(MpmEventKind.Prediction, predictions), new EventPayload(MpmEventKind.Label, labels) })
        {
            if (payload.Count > 0)
            {
                SpillOrDrop(payload, DropReason.Shutdown, "the end timeout ran out before it was sent");
            }
        }

        events.Clear();
    }

    public void MarkUnauthorized(int status)
    {
        if (Interlocked.CompareExchange(ref _unauthorizedStatus, status == 0 ? 401 : status, 0) == 0)
        {
            var fate = outbox is null
                ? "Events are dropped (unauthorized); set CometMpm:Outbox:Directory to keep them until the key is fixed."
                : $"Events are kept in the outbox ({outbox.Directory}) and delivered after the restart.";
            Log.Unauthorized(logger, status, fate);
            errors.Add($"The backend refused the API key (HTTP {status}). Fix CometMpm:ApiKey (COMET_API_KEY) and restart.");
        }
    }

    private void RecordFailure()
    {
        NoteTrouble();
        lock (_circuitLock)
        {
            var now = timeProvider.GetUtcNow();
            _consecutiveFailures++;
            if (_consecutiveFailures >= options.CircuitBreakerFailureThreshold && now >= _circuitOpenUntil)
            {
                _circuitOpenUntil = now + options.CircuitBreakDuration;
                Log.CircuitOpened(logger, options.CircuitBreakDuration, outbox is null
                    ? "Batches wait in memory; when the queue is full, new events are dropped (queue_full)."
                    : $"Batches go to the outbox ({outbox.Directory}).");
            }
        }
    }

    private void RecordSuccess()
    {
        bool wasOpen;
        lock (_circuitLock)
        {
            wasOpen = _consecutiveFailures >= options.CircuitBreakerFailureThreshold;
            _consecutiveFailures = 0;
            _circuitOpenUntil = DateTimeOffset.MinValue;
        }

        if (wasOpen)
        {
            Log.CircuitClosed(logger);
        }

        BackendAnswered.Pulse();
    }

    private async Task WaitAnyAsync(Task signal, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(Max(timeout, TimeSpan.FromMilliseconds(1)), timeProvider, cts.Token);
        await Task.WhenAny(signal, delay).ConfigureAwait(false);
        await cts.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private static string KindName(BatchPayload payload) => payload.Kind == MpmEventKind.Label ? "label" : "prediction";

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>What became of a payload: delivered and invalid counts, and what is left unsent with the reason.</summary>
    private sealed record Delivery(int Delivered, int Invalid, List<BatchPayload> Unsent, string? Reason, int Status, string Detail)
    {
        public static Delivery Of(int delivered = 0, int invalid = 0) => new(delivered, invalid, [], null, 0, "");

        public static Delivery Failed(BatchPayload payload, string reason, int status, string detail) => new(0, 0, [payload], reason, status, detail);

        public Delivery With(BatchPayload alsoUnsent) => this with { Unsent = [.. Unsent, alsoUnsent] };

        public Delivery Plus(Delivery other) => new(
            Delivered + other.Delivered,
            Invalid + other.Invalid,
            [.. Unsent, .. other.Unsent],
            Reason ?? other.Reason,
            Reason is null ? other.Status : Status,
            Reason is null ? other.Detail : Detail);
    }
}
