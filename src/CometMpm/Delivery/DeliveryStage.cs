using CometMpm.Diagnostics;
using CometMpm.Persistence;
using CometMpm.Queue;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Delivery;

/// <summary>
/// The background half of a client: it wires the chain (splitting → outbox → HTTP), runs the start-up check, the batch
/// worker and the outbox replayer under one supervisor, and answers flush and end from the ledger. The loops start at
/// application start (the hosted service) or with the first event when there is no host.
/// </summary>
internal sealed class DeliveryStage
{
    private readonly CometMpmOptions _options;
    private readonly EventQueue _queue;
    private readonly SettlementLedger _ledger;
    private readonly Outbox? _outbox;
    private readonly OutboxDelivery? _outboxLink;
    private readonly OutboxReplayer? _replayer;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly string _name;
    private readonly CancellationTokenSource _abort = new();
    private readonly Lock _lock = new();
    private Task? _loop;
    private Task<bool>? _end;

    public DeliveryStage(
        string name,
        CometMpmOptions options,
        EventQueue queue,
        MpmTransport transport,
        SettlementLedger ledger,
        LoggingErrorStore errors,
        Outbox? outbox,
        CometMpmMetrics metrics,
        TimeProvider timeProvider,
        ILogger logger)
    {
        _name = name.Length == 0 ? "default" : name;
        _options = options;
        _queue = queue;
        _ledger = ledger;
        _outbox = outbox;
        _timeProvider = timeProvider;
        _logger = logger;
        Gate = transport.Gate;
        var settlement = new Settlement(ledger, errors, timeProvider, logger);
        Check = new StartupCheck(transport, options, errors, name, logger);
        if (!options.RaiseOnErrorDuringInit)
        {
            // With RaiseOnErrorDuringInit the hosted service runs the check at application start (failing start on an
            // error); without a host it is not run at all, as before.
            Gate.AwaitStartupCheck(Check.Completed);
        }

        IBatchDelivery live = new SplittingDelivery(new HttpDelivery(transport, options, metrics, errors, timeProvider, outbox?.Directory, logger), Gate, timeProvider, logger);
        if (outbox is not null)
        {
            live = _outboxLink = new OutboxDelivery(live, outbox, Gate, settlement, options.Outbox.SpillInterval / 2, timeProvider, logger);
            var replay = new SplittingDelivery(new HttpDelivery(transport, options, metrics, errors, timeProvider, outbox.Directory, logger), Gate, timeProvider, logger);
            _replayer = new OutboxReplayer(outbox, replay, settlement, Gate, async token => (await Check.PingAsync(token).ConfigureAwait(false)).IsSuccess, options, timeProvider, logger);
        }

        Worker = new BatchWorker(queue, live, settlement, Gate, options, outbox is not null, timeProvider, logger);
    }

    public SendGate Gate { get; }

    public BatchWorker Worker { get; }

    public StartupCheck Check { get; }

    /// <summary>The background loops; completes when the client has ended.</summary>
    public Task Completion => EnsureStarted();

    public bool IsEnding => Volatile.Read(ref _end) is not null;

    /// <summary>The background loops, or null when they never started.</summary>
    public Task? Loop => Volatile.Read(ref _loop);

    /// <summary>Starts the loops once; after the end (which started them if anything was accepted) it starts nothing.</summary>
    public Task EnsureStarted()
    {
        var loop = Volatile.Read(ref _loop);
        if (loop is not null)
        {
            return loop;
        }

        lock (_lock)
        {
            return _loop ??= _end is null ? StartDetached(RunAsync) : Task.CompletedTask;
        }
    }

    /// <summary>Waits until every event accepted before the call is settled; true when all of them were delivered.</summary>
    public async Task<bool> FlushAsync(CancellationToken cancellationToken)
    {
        var target = _ledger.Accepted;
        _ = EnsureStarted();
        Worker.RequestFlush(target);

        // Without a token the wait is bounded by the end timeout, so a flush during an outage answers (false).
        using var bound = cancellationToken.CanBeCanceled ? null : new CancellationTokenSource(_options.EndTimeout, _timeProvider);
        var token = bound?.Token ?? cancellationToken;
        while (_ledger.Settled < target)
        {
            var progress = _ledger.Progress.WaitTask;
            if (_ledger.Settled >= target)
            {
                break;
            }

            try
            {
                await progress.WaitAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return false;
            }
        }

        return _ledger.NotDelivered == 0;
    }

    /// <summary>
    /// Waits until <paramref name="hasRoom"/> says the queue can take one more event, so that row logging applies
    /// backpressure instead of dropping: it asks for a send at once and waits on the ledger's progress, at most
    /// <paramref name="maxWait"/> without any event leaving the queue. False when the queue stayed full that long.
    /// </summary>
    public async ValueTask<bool> WaitForQueueSpaceAsync(Func<bool> hasRoom, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        _ = EnsureStarted();
        while (!hasRoom() && !IsEnding)
        {
            var progressed = _ledger.Progress.WaitTask;
            Worker.RequestFlush(_ledger.Accepted);
            if (hasRoom())
            {
                break;
            }

            try
            {
                await progressed.WaitAsync(maxWait, _timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException) when (!hasRoom())
            {
                Log.RowLoggingQueueStalled(_logger, maxWait, _options.FullQueuePolicy);
                return false;
            }
        }

        return true;
    }

    /// <summary>Ends within <paramref name="timeout"/>, or sooner when <paramref name="hostStopping"/> fires; calling it again waits for the first call.</summary>
    public Task<bool> EndAsync(TimeSpan timeout, CancellationToken hostStopping)
    {
        lock (_lock)
        {
            return _end ??= EndCoreAsync(timeout, hostStopping);
        }
    }

    private async Task<bool> EndCoreAsync(TimeSpan timeout, CancellationToken hostStopping)
    {
        _queue.Complete();
        Worker.Wake.Pulse();
        if (Volatile.Read(ref _loop) is null && _ledger.Accepted == 0)
        {
            return true; // never started and nothing to send: no start-up check just to end
        }

        Task loop;
        lock (_lock)
        {
            loop = _loop ??= StartDetached(RunAsync); // the end starts the loops itself: EnsureStarted no longer does
        }

        using (var timer = CancellationTokenSource.CreateLinkedTokenSource(hostStopping))
        {
            var deadline = Task.Delay(timeout, _timeProvider, timer.Token);
            if (await Task.WhenAny(loop, deadline).ConfigureAwait(false) != loop)
            {
                await _abort.CancelAsync().ConfigureAwait(false);
            }

            await timer.CancelAsync().ConfigureAwait(false);
        }

        await loop.ConfigureAwait(false);
        var notDelivered = _ledger.Accepted - (_ledger.Settled - _ledger.NotDelivered);
        if (notDelivered == 0)
        {
            Log.EndedClean(_logger, _name);
        }
        else
        {
            var shutdown = _ledger.Snapshot(0, 0).Dropped.GetValueOrDefault(DropReason.Shutdown);
            if (shutdown == 0)
            {
                Log.EndedAfterFailures(_logger, _name, notDelivered); // the end timeout was not the cause: no advice to raise it
            }
            else
            {
                Log.EndedWithLosses(_logger, _name, notDelivered, shutdown, notDelivered - shutdown, timeout);
            }
        }

        return notDelivered == 0;
    }

    /// <summary>The supervisor: the start-up check beside the worker (which sends nothing before it answers, but spills
    /// to the outbox meanwhile), then the replayer, until the end.</summary>
    /// <summary>
    /// Starts a loop that lives as long as the client without the caller's execution context: the first LogEvent may come
    /// from a request, whose Activity (and HttpContext) must not become the parent of every later batch.
    /// </summary>
    private static Task StartDetached(Func<Task> loop)
    {
        using (ExecutionContext.SuppressFlow())
        {
            return Task.Run(loop);
        }
    }

    private async Task RunAsync()
    {
        var check = _options.RaiseOnErrorDuringInit ? Task.CompletedTask : RunCheckAsync();
        using var replayStop = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
        var replay = _replayer is null ? Task.CompletedTask : Task.Run(async () =>
        {
            await check.ConfigureAwait(false);
            await _replayer.RunAsync(replayStop.Token).ConfigureAwait(false);
        });
        try
        {
            await Worker.RunAsync(_abort.Token).ConfigureAwait(false);
        }
        finally
        {
            await replayStop.CancelAsync().ConfigureAwait(false);
            await replay.ConfigureAwait(false);
            await check.ConfigureAwait(false);
            if (_outboxLink is not null)
            {
                await _outboxLink.InFlight.ConfigureAwait(false); // deliveries left in flight finish or are cut by the end timeout
            }
        }
    }

    private async Task RunCheckAsync()
    {
        try
        {
            await Check.RunAsync(raise: false, _abort.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Log.InternalError(_logger, ex, "the start-up check", 0, 0);
        }
    }

    public void Dispose()
    {
        _outbox?.Dispose();
        _abort.Dispose();
    }
}
