using CometMpm.Diagnostics;
using CometMpm.Serialization;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Pipeline;

/// <summary>
/// The background stage: reads the queue into batches (by size and by time, measured with the
/// injected <see cref="TimeProvider"/>), splits each batch into predictions and labels, serializes
/// them and sends them through the transport, one request at a time, and settles every event as
/// delivered or dropped under a reason.
/// </summary>
internal sealed class BatchSender(
    EventQueue queue,
    MpmTransport transport,
    CometMpmOptions options,
    TimeProvider timeProvider,
    CometMpmMetrics metrics,
    LoggingErrorStore errors,
    ILogger logger)
{
    private readonly BatchSerializer _serializer = new();
    private readonly List<MpmEvent> _predictions = [];
    private readonly List<MpmEvent> _labels = [];
    private long _flushTarget;
    private long _shutdownDropped;

    /// <summary>Wakes the sender when a flush is asked for or the queue is completed.</summary>
    public AsyncSignal Wake { get; } = new();

    /// <summary>Events dropped because the end timeout ran out.</summary>
    public long ShutdownDropped => Interlocked.Read(ref _shutdownDropped);

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
        var reader = queue.Reader;
        var batch = new List<MpmEvent>(Math.Min(options.MaxBatchSize, 4096));
        try
        {
            while (true)
            {
                if (!reader.TryRead(out var first))
                {
                    if (!await reader.WaitToReadAsync(abort).ConfigureAwait(false))
                    {
                        break;
                    }

                    continue;
                }

                batch.Add(first);
                await FillAsync(batch, timeProvider.GetUtcNow() + options.MaxBatchTime, abort).ConfigureAwait(false);
                await SendAsync(batch, abort).ConfigureAwait(false);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            // The end timeout ran out: what is in hand and still queued is counted below.
        }

        DropForShutdown(batch.Count);
        var left = 0;
        while (reader.TryRead(out _))
        {
            left++;
        }

        DropForShutdown(left);
    }

    private void DropForShutdown(int count)
    {
        if (count == 0)
        {
            return;
        }

        Interlocked.Add(ref _shutdownDropped, count);
        metrics.Dropped(DropReason.Shutdown, count);
        queue.Settle(count, delivered: false);
    }

    private async Task FillAsync(List<MpmEvent> batch, DateTimeOffset deadline, CancellationToken abort)
    {
        var reader = queue.Reader;
        var max = options.MaxBatchSize;
        while (true)
        {
            while (batch.Count < max && reader.TryRead(out var next))
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

            using var waitCancellation = CancellationTokenSource.CreateLinkedTokenSource(abort);
            var dataArrived = reader.WaitToReadAsync(waitCancellation.Token).AsTask();
            var batchTimeElapsed = Task.Delay(remaining, timeProvider, waitCancellation.Token);
            var completed = await Task.WhenAny(dataArrived, batchTimeElapsed, wake).ConfigureAwait(false);
            await waitCancellation.CancelAsync().ConfigureAwait(false);
            abort.ThrowIfCancellationRequested();
            if (completed == batchTimeElapsed || (completed == dataArrived && !await dataArrived.ConfigureAwait(false)))
            {
                return;
            }
        }
    }

    private async Task SendAsync(List<MpmEvent> batch, CancellationToken abort)
    {
        // Predictions first, then labels, call order kept within each (protocol §5.2).
        _predictions.Clear();
        _labels.Clear();
        foreach (var item in batch)
        {
            (item.Kind == MpmEventKind.Label ? _labels : _predictions).Add(item);
        }

        try
        {
            await SendKindAsync(_predictions, MpmTransport.EventsPath, "prediction", abort).ConfigureAwait(false);
            await SendKindAsync(_labels, MpmTransport.LabelsPath, "label", abort).ConfigureAwait(false);
        }
        finally
        {
            _predictions.Clear();
            _labels.Clear();
        }

        batch.Clear();
        abort.ThrowIfCancellationRequested();
    }

    private async Task SendKindAsync(List<MpmEvent> events, string path, string kind, CancellationToken abort)
    {
        if (events.Count == 0)
        {
            return;
        }

        var started = timeProvider.GetTimestamp();
        TransportResult result;
        try
        {
            var body = _serializer.Serialize(events);
            result = await transport.PostJsonAsync(path, body, abort).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.SenderFault(logger, ex);
            result = new TransportResult(0, ex.GetType().Name + ": " + ex.Message);
        }

        metrics.BatchDuration(timeProvider.GetElapsedTime(started));
        if (result.IsSuccess)
        {
            metrics.Request("success");
            metrics.Sent(events.Count);
            queue.Settle(events.Count, delivered: true);
            return;
        }

        var reason = result.Cancelled ? DropReason.Shutdown
            : result.IsUnauthorized ? DropReason.Unauthorized
            : result.IsRejected ? DropReason.Invalid
            : DropReason.SendFailed;
        metrics.Request(reason);
        if (result.Cancelled)
        {
            DropForShutdown(events.Count);
            return;
        }

        var message = $"Error sending batch data to the backend. {events.Count} {kind} events to {path} were not delivered ({reason}). Error: {result.Detail}";
        Log.BatchFailed(logger, events.Count, kind, path, reason, result.Detail);
        errors.Add(message, events);
        metrics.Dropped(reason, events.Count);
        queue.Settle(events.Count, delivered: false);
    }
}
