using System.Collections.Concurrent;
using CometMpm.Diagnostics;
using CometMpm.Persistence;
using CometMpm.Serialization;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Delivery;

/// <summary>
/// The background loop of the outbox: it leases the oldest batch file, sends it through the chain (splitting → HTTP)
/// and settles what came of it. It never holds up fresh events, never adds load to a failing backend (after a failure
/// it waits for the backend to answer a fresh batch, or probes once per backoff), and cannot be stopped by one file:
/// <list type="bullet">
/// <item>a file it cannot read is quarantined and counted by the store;</item>
/// <item>a file that fails is put back with a per-file backoff, so newer files go first. A failure right after which
/// the backend answers a ping is the file's own doing, a strike: a file of several events with a strike is split in
/// halves (its good events then go), and a single event with <see cref="StrikesBeforeDrop"/> strikes is dropped
/// (<c>send_failed</c>);</item>
/// <item>an I/O error (the folder unreadable) is reported in health and retried with backoff.</item>
/// </list>
/// An unexpected exception is logged (rate-limited) and the loop goes on.
/// </summary>
internal sealed class OutboxReplayer(
    Outbox outbox,
    IBatchDelivery delivery,
    Settlement settlement,
    SendGate gate,
    Func<CancellationToken, Task<bool>> backendAnswers,
    CometMpmOptions options,
    TimeProvider timeProvider,
    ILogger logger)
{
    internal const int StrikesBeforeDrop = 3;
    private static readonly TimeSpan MaintenanceInterval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);
    private readonly BatchSerializer _serializer = new();
    private readonly ConcurrentDictionary<string, (DateTimeOffset NotBefore, TimeSpan Backoff)> _held = new(StringComparer.Ordinal);
    private readonly LogThrottle _faultLog = new(timeProvider, TimeSpan.FromSeconds(30));

    public async Task RunAsync(CancellationToken stop)
    {
        var failureBackoff = TimeSpan.FromSeconds(1);
        var faultBackoff = TimeSpan.FromSeconds(1);
        var lastMaintenance = timeProvider.GetTimestamp();
        var probe = false;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var answered = gate.Answered.WaitTask;
                if (gate.IsKeyRefused || gate.IsDisabled)
                {
                    return; // nothing will get through until a restart
                }

                if (gate.IsCircuitOpen || gate.IsPaused)
                {
                    var until = gate.IsCircuitOpen ? gate.CircuitOpenUntil : gate.PausedUntil;
                    await WaitAnyAsync(answered, until - timeProvider.GetUtcNow(), stop).ConfigureAwait(false);
                    continue;
                }

                if (timeProvider.GetElapsedTime(lastMaintenance) >= MaintenanceInterval)
                {
                    outbox.Maintain();
                    lastMaintenance = timeProvider.GetTimestamp();
                }

                // After a failure replay waits for the backend to answer a fresh batch, or probes once per backoff.
                if (gate.ConsecutiveFailures > 0 && !probe)
                {
                    await WaitAnyAsync(answered, failureBackoff, stop).ConfigureAwait(false);
                    failureBackoff = Min(failureBackoff * 2, Max(options.CircuitBreakDuration, TimeSpan.FromSeconds(1)));
                    probe = true;
                    continue;
                }

                probe = false;
                var written = outbox.Written.WaitTask;
                var now = timeProvider.GetUtcNow();
                var leased = outbox.LeaseOldest(name => _held.TryGetValue(name.Id, out var held) && now < held.NotBefore);
                outbox.NoteFault(null);
                faultBackoff = TimeSpan.FromSeconds(1);
                if (leased is null)
                {
                    await WaitAnyAsync(Task.WhenAny(answered, written), NextWake(now), stop).ConfigureAwait(false);
                    continue;
                }

                if (await ReplayAsync(leased, stop).ConfigureAwait(false))
                {
                    failureBackoff = TimeSpan.FromSeconds(1);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                var reason = ex is IOException or UnauthorizedAccessException
                    ? $"cannot read {outbox.Directory}: {ex.Message}"
                    : $"unexpected {ex.GetType().Name}: {ex.Message}";
                outbox.NoteFault(reason);
                if (_faultLog.ShouldLog())
                {
                    Log.OutboxFault(logger, reason, faultBackoff);
                }

                try
                {
                    await Task.Delay(faultBackoff, timeProvider, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                faultBackoff = Min(faultBackoff * 2, MaxBackoff);
            }
        }
    }

    /// <summary>Sends one leased file and settles it; true when it went through whole.</summary>
    private async Task<bool> ReplayAsync(LeasedBatch leased, CancellationToken stop)
    {
        // The file is changed first, then the ledger: if the disk fails in between, the file is replayed again later
        // (a harmless resend) rather than settled twice.
        var report = await delivery.DeliverAsync(leased.Payload!, stop).ConfigureAwait(false);
        if (report.Unsent.Count == 0)
        {
            outbox.Complete(leased);
            settlement.SettleFromOutbox(report);
            _held.TryRemove(leased.Name.Id, out _);
            Log.Replayed(logger, report.Delivered, leased.Path);
            return true;
        }

        if (report.Delivered + report.Dropped.Count > 0)
        {
            // Part got through or was given up: keep only the rest, with the file's age.
            outbox.Replace(leased, [.. report.Unsent.Select(Copy)]);
            settlement.SettleFromOutbox(report);
            return false;
        }

        // A failure after which the backend still answers a ping is this file's own doing: a strike.
        var strikes = leased.Name.Strikes;
        if (report.UnsentStatus is SendStatus.Failed or SendStatus.InternalError && await backendAnswers(stop).ConfigureAwait(false))
        {
            strikes++;
        }

        if (strikes > 0 && leased.Payload!.Count > 1)
        {
            var (first, second) = leased.Payload.Halve();
            Log.OutboxPoison(logger, leased.Path, leased.Name.Count, report.Detail, "it is split in halves");
            outbox.Replace(leased, [Copy(first), Copy(second)]);
        }
        else if (strikes >= StrikesBeforeDrop)
        {
            Log.OutboxPoison(logger, leased.Path, leased.Name.Count, report.Detail, "it is dropped (send_failed)");
            outbox.Complete(leased);
            settlement.Drop(leased.Payload!, DropReason.SendFailed, $"kept failing while other requests succeeded: {report.Detail}", fromOutbox: true);
        }
        else
        {
            outbox.Release(leased, strikes);
            var backoff = _held.TryGetValue(leased.Name.Id, out var held) ? Min(held.Backoff * 2, MaxBackoff) : TimeSpan.FromSeconds(1);
            _held[leased.Name.Id] = (timeProvider.GetUtcNow() + backoff, backoff);
        }

        return false;
    }

    /// <summary>A part's body, copied out of the reused serializer buffer.</summary>
    private (int Count, ReadOnlyMemory<byte> Body) Copy(BatchPayload part) => (part.Count, part.Serialize(_serializer).ToArray());

    private TimeSpan NextWake(DateTimeOffset now)
    {
        var next = MaintenanceInterval;
        foreach (var held in _held.Values)
        {
            next = Min(next, held.NotBefore - now);
        }

        return next;
    }

    private async Task WaitAnyAsync(Task signal, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(Max(timeout, TimeSpan.FromMilliseconds(1)), timeProvider, cts.Token);
        await Task.WhenAny(signal, delay).ConfigureAwait(false);
        await cts.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
