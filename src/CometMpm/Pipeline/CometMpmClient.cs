using CometMpm.Configuration;
using CometMpm.Diagnostics;
using CometMpm.Persistence;
using CometMpm.Serialization;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Pipeline;

/// <summary>
/// The client behind <see cref="ICometMpm"/>: validates on the caller's thread, queues, and runs one
/// <see cref="BatchSender"/> loop in the background. The loop is started by the hosted service at
/// application start, or by the first logging call when there is no host.
/// </summary>
internal sealed partial class CometMpmClient : ICometMpm, IAsyncDisposable, IDisposable
{
    private const int Running = 0;
    private const int DisabledByHealthCheck = 1;
    private const int Ended = 2;
    private static readonly TimeSpan QueueFullWarningInterval = TimeSpan.FromSeconds(10);

    private readonly string _name;
    private readonly CometMpmOptions _options;
    private readonly ModelIdentity _model;
    private readonly TimeProvider _timeProvider;
    private readonly CometMpmMetrics _metrics;
    private readonly ILogger _logger;
    private readonly EventQueue _queue;
    private readonly MpmTransport _transport;
    private readonly BatchSender _sender;
    private readonly LoggingErrorStore _errors;
    private readonly Outbox? _outbox;
    private readonly CancellationTokenSource _abort = new();
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _healthChecked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;
    private int _deprecationWarned;
    private long _queueFullDrops;
    private long _lastQueueFullWarning;
    private Task? _loop;
    private Task<bool>? _end;

    public CometMpmClient(
        string name,
        CometMpmOptions options,
        IHttpClientFactory httpClientFactory,
        TimeProvider timeProvider,
        CometMpmMetrics metrics,
        ILoggerFactory loggerFactory)
    {
        _name = name;
        _options = options;
        _timeProvider = timeProvider;
        _metrics = metrics;
        _logger = loggerFactory.CreateLogger("CometMpm");
        _model = new ModelIdentity(options.WorkspaceName!, options.ModelName!, options.ModelVersion!);
        _errors = new LoggingErrorStore(timeProvider);
        _queue = new EventQueue(options.QueueCapacity, options.MaxQueueBytes, options.FullQueuePolicy, options.FullQueueWaitTimeout, metrics);
        _queue.EvictedOldest += OnQueueFull;
        var address = ServerAddress.From(options.ApiKey, options.UrlOverride, options.BasePath);
        if (address.Warning is { } warning)
        {
            Log.ConfigurationWarning(_logger, warning);
        }

        _transport = new MpmTransport(httpClientFactory, address, options, timeProvider, metrics, _logger);
        if (!string.IsNullOrWhiteSpace(options.Outbox.Directory))
        {
            _outbox = new Outbox(options.Outbox, timeProvider, metrics, _logger);
        }

        _sender = new BatchSender(_queue, _transport, options, timeProvider, metrics, _errors, _outbox, _logger);
        metrics.AddQueueDepthSource(() => _queue.Count);
        Log.Started(_logger, name, address.MpmBase, _model.WorkspaceName, _model.ModelName, _model.ModelVersion);
    }

    internal Uri MpmBase => _transport.Address.MpmBase;

    internal TimeSpan EndTimeout => _options.EndTimeout;

    internal DateTimeOffset PausedUntil => _transport.PausedUntil;

    /// <summary>The sender loop; completes when the client has ended.</summary>
    internal Task Completion => EnsureStarted();

    internal EventQueue Queue => _queue;

    internal bool IsDisabledByHealthCheck => Volatile.Read(ref _state) == DisabledByHealthCheck;

    /// <summary>Completes when the start-up health check has finished (whatever its outcome).</summary>
    internal Task HealthChecked => _healthChecked.Task;

    public bool HasLoggingError => _errors.HasErrors;

    public IReadOnlyList<CometMpmLoggingError> GetLoggingErrors(bool clear = true) => _errors.Get(clear);

    public LogResult LogEvent(
        string predictionId,
        IReadOnlyDictionary<string, object?>? inputFeatures = null,
        IReadOnlyDictionary<string, object?>? outputFeatures = null,
        IReadOnlyDictionary<string, object?>? labels = null,
        DateTimeOffset? timestamp = null)
    {
        if (RefuseWhenClosed() is { } refused)
        {
            return refused;
        }

        var error = EventFactory.TryCreatePrediction(_model, predictionId, inputFeatures, outputFeatures, labels, TimestampMs(timestamp), out var mpmEvent);
        return error is null ? Enqueue(mpmEvent!) : RefuseInvalid(error);
    }

    [Obsolete("See ICometMpm.")]
    public LogResult LogEvent(
        string predictionId,
        IReadOnlyDictionary<string, object?>? inputFeatures,
        object? outputValue,
        double? outputProbability,
        IReadOnlyDictionary<string, object?>? outputFeatures = null,
        IReadOnlyDictionary<string, object?>? labels = null,
        DateTimeOffset? timestamp = null)
    {
        if (RefuseWhenClosed() is { } refused)
        {
            return refused;
        }

        if (EventFactory.TryMergeDeprecatedOutputs(outputValue, outputProbability, outputFeatures, out var merged) is { } error)
        {
            return RefuseInvalid(error);
        }

        WarnDeprecatedOnce(outputValue is not null || outputProbability is not null);
        return LogEvent(predictionId, inputFeatures, merged, labels, timestamp);
    }

    public LogResult LogLabel(string predictionId, IReadOnlyDictionary<string, object?>? labels, DateTimeOffset? timestamp = null)
    {
        if (RefuseWhenClosed() is { } refused)
        {
            return refused;
        }

        var error = EventFactory.TryCreateLabel(_model, predictionId, labels, TimestampMs(timestamp), out var mpmEvent);
        return error is null ? Enqueue(mpmEvent!) : RefuseInvalid(error);
    }

    [Obsolete("See ICometMpm.")]
    public LogResult LogLabel(string predictionId, object? label, IReadOnlyDictionary<string, object?>? labels = null, DateTimeOffset? timestamp = null)
    {
        WarnDeprecatedOnce(true);
        return LogLabel(predictionId, EventFactory.MergeDeprecatedLabel(label, labels), timestamp);
    }

    /// <summary>Queues an event built elsewhere in the library (capture, row logging) from already normalized maps.</summary>
    internal LogResult LogPrepared(string predictionId, FeatureMap? inputFeatures, FeatureMap? outputFeatures, FeatureMap? labels, DateTimeOffset? timestamp = null)
    {
        if (RefuseWhenClosed() is { } refused)
        {
            return refused;
        }

        if (string.IsNullOrWhiteSpace(predictionId))
        {
            return RefuseInvalid("predictionId is empty: pass a unique id per prediction.");
        }

        var prediction = outputFeatures is { Count: > 0 } ? outputFeatures : null;
        var labelMap = labels is { Count: > 0 } ? labels : null;
        return Enqueue(new MpmEvent(MpmEventKind.Prediction, _model, predictionId, TimestampMs(timestamp), inputFeatures, prediction, labelMap));
    }

    internal CometMpmMetrics Metrics => _metrics;

    public async Task<bool> FlushAsync(CancellationToken cancellationToken = default)
    {
        var target = _queue.Accepted;
        if (_queue.Settled >= target)
        {
            return _queue.Failed == 0;
        }

        _ = EnsureStarted();
        _sender.RequestFlush(target);
        while (true)
        {
            var progress = _queue.Progress.WaitTask;
            if (_queue.Settled >= target)
            {
                return _queue.Failed == 0;
            }

            try
            {
                await progress.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return false;
            }
        }
    }

    public Task<bool> EndAsync(TimeSpan? timeout = null) => EndAsync(timeout ?? _options.EndTimeout, CancellationToken.None);

    [Obsolete("See ICometMpm.")]
    public Task<bool> JoinAsync(TimeSpan? timeout = null) => EndAsync(timeout);

    /// <summary>Ends the client within <paramref name="timeout"/>, or sooner when <paramref name="hostStopping"/> fires.</summary>
    internal Task<bool> EndAsync(TimeSpan timeout, CancellationToken hostStopping)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        lock (_lock)
        {
            return _end ??= EndCoreAsync(timeout, hostStopping);
        }
    }

    /// <summary>Called by the hosted service at application start.</summary>
    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.RaiseOnErrorDuringInit)
        {
            // Fails application start with the reason, bounded by the ping timeout.
            await CheckHealthAsync(raise: true, cancellationToken).ConfigureAwait(false);
        }

        _ = EnsureStarted();
    }

    public async ValueTask DisposeAsync()
    {
        await EndAsync().ConfigureAwait(false);
        _outbox?.Dispose();
        _abort.Dispose();
    }

    /// <summary>
    /// Unhealthy when nothing can be delivered (the key was refused, MPM is not installed); Degraded while the
    /// backend fails or events were recently dropped or wait in the outbox; Healthy otherwise.
    /// </summary>
    internal (CometMpmHealth Status, string Description) CheckHealth()
    {
        if (_sender.IsUnauthorized)
        {
            return (CometMpmHealth.Unhealthy, $"The backend refused the API key (HTTP {_sender.UnauthorizedStatus}); nothing is sent. Fix CometMpm:ApiKey and restart.");
        }

        if (IsDisabledByHealthCheck)
        {
            return (CometMpmHealth.Unhealthy, "The start-up health check failed, so the client is disabled; see GetLoggingErrors() for the reason.");
        }

        if (_loop is { IsCompleted: true } && Volatile.Read(ref _state) != Ended)
        {
            return (CometMpmHealth.Unhealthy, "The sender stopped unexpectedly; see the log.");
        }

        if (_sender.IsCircuitOpen)
        {
            return (CometMpmHealth.Degraded, $"The backend keeps failing; sending paused until {_sender.CircuitOpenUntil:O}.");
        }

        if (_outbox is { Files: > 0 } outbox)
        {
            return (CometMpmHealth.Degraded, $"{outbox.Files} batches ({outbox.Bytes} bytes) wait in the outbox to be replayed.");
        }

        if (_sender.HadRecentTrouble)
        {
            return (CometMpmHealth.Degraded, "Batches failed or events were dropped in the last minute; see the cometmpm.events.dropped metric and the log.");
        }

        return (CometMpmHealth.Healthy, $"Sending to {MpmBase}; {_queue.Count} events queued.");
    }

    public void Dispose()
    {
        // Synchronous disposal cannot wait for the network: stop at once; what is left is counted as shutdown drops.
        lock (_lock)
        {
            _end ??= Task.FromResult(false);
        }

        Volatile.Write(ref _state, Ended);
        _queue.Complete();
        _abort.Cancel();
    }

    private async Task<bool> EndCoreAsync(TimeSpan timeout, CancellationToken hostStopping)
    {
        if (Interlocked.CompareExchange(ref _state, Ended, Running) == DisabledByHealthCheck)
        {
            Volatile.Write(ref _state, Ended);
        }

        _queue.Complete();
        _sender.Wake.Pulse();
        var loop = EnsureStarted();
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
        var failed = _queue.Failed;
        if (failed == 0)
        {
            Log.EndedClean(_logger, _name);
        }
        else
        {
            var shutdown = _sender.ShutdownDropped;
            Log.EndedWithLosses(_logger, _name, failed, shutdown, failed - shutdown, timeout);
        }

        return failed == 0;
    }

    private Task EnsureStarted()
    {
        var loop = Volatile.Read(ref _loop);
        if (loop is not null)
        {
            return loop;
        }

        lock (_lock)
        {
            return _loop ??= Task.Run(RunAsync);
        }
    }

    private async Task RunAsync()
    {
        try
        {
            if (!_options.RaiseOnErrorDuringInit)
            {
                await CheckHealthAsync(raise: false, _abort.Token).ConfigureAwait(false);
            }

            if (Volatile.Read(ref _state) == DisabledByHealthCheck)
            {
                DropQueuedWhileDisabled();
                return;
            }

            using var replayStop = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
            var replay = Task.Run(() => _sender.ReplayAsync(replayStop.Token));
            try
            {
                await _sender.RunAsync(_abort.Token).ConfigureAwait(false);
            }
            finally
            {
                await replayStop.CancelAsync().ConfigureAwait(false);
                await replay.ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            // The loop must never die silently: whatever is left is counted.
            Log.SenderFault(_logger, ex);
            DropQueuedWhileDisabled();
        }
    }

    /// <summary>
    /// The start-up health check, <c>GET isAlive/ping</c>, bounded by the ping timeout. An error status
    /// disables the client as in the Python SDK; an unreachable backend is only reported (events stay
    /// queued and are retried), where the Python SDK would crash the constructor.
    /// </summary>
    private async Task CheckHealthAsync(bool raise, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.PingTimeout);
            var result = await _transport.PingAsync(timeout.Token).ConfigureAwait(false);
            if (result.IsSuccess)
            {
                return;
            }

            CometMpmException failure = result.StatusCode switch
            {
                0 when cancellationToken.IsCancellationRequested => new CometMpmException("Health check cancelled."),
                408 or 429 or 502 or 503 or 504 => new CometMpmBackendNotAvailableException($"The MPM backend at {MpmBase} is temporarily unavailable ({result.Detail}).") { StatusCode = result.StatusCode },
                0 => new CometMpmBackendNotAvailableException($"Could not reach the MPM backend at {MpmBase} within {_options.PingTimeout}: {(result.Cancelled ? "timed out" : result.Detail)}. Check CometMpm:UrlOverride (COMET_URL_OVERRIDE) and the network."),
                500 => new CometMpmBackendException($"The MPM backend at {MpmBase} isn't working as expected ({result.Detail}).") { StatusCode = 500 },
                401 or 403 => new CometMpmBackendNotAvailableException($"The MPM backend at {MpmBase} refused the API key ({result.Detail}). Check CometMpm:ApiKey (COMET_API_KEY).") { StatusCode = result.StatusCode },
                _ => new CometMpmBackendNotAvailableException($"MPM doesn't seem to be installed at {MpmBase} ({result.Detail}). Check CometMpm:UrlOverride (COMET_URL_OVERRIDE) and CometMpm:BasePath (COMET_MPM_BASE_PATH).") { StatusCode = result.StatusCode },
            };
            if (raise)
            {
                throw failure;
            }

            _errors.Add($"Connection failed during initialization: {failure.Message}");
            if (result.StatusCode == 0 || (result.StatusCode != 500 && MpmTransport.IsTransient((System.Net.HttpStatusCode)result.StatusCode)))
            {
                // Unreachable or temporarily unavailable (408, 429, 502-504): events stay queued and are retried.
                Log.PingUnreachable(_logger, failure.Message);
            }
            else if (result.StatusCode is 401 or 403)
            {
                // Nothing will get through with this key: stop sending, keep events in the outbox when there is one.
                _sender.MarkUnauthorized(result.StatusCode);
            }
            else
            {
                Log.PingFailedDisabled(_logger, _name, failure.Message);
                Interlocked.CompareExchange(ref _state, DisabledByHealthCheck, Running);
            }
        }
        finally
        {
            _healthChecked.TrySetResult();
        }
    }

    private void DropQueuedWhileDisabled()
    {
        long dropped = 0;
        while (_queue.TryRead(out _))
        {
            dropped++;
        }

        if (dropped > 0)
        {
            _metrics.Dropped(DropReason.Disabled, dropped);
            _queue.Settle((int)dropped, delivered: false);
            Log.DroppedWhileDisabled(_logger, dropped);
        }
    }

    private LogResult Enqueue(MpmEvent mpmEvent)
    {
        _ = EnsureStarted();
        if (_queue.TryWrite(mpmEvent))
        {
            _metrics.Enqueued();

            // The health check may have disabled the client meanwhile; the loop then drops what is queued.
            if (Volatile.Read(ref _state) == DisabledByHealthCheck)
            {
                DropQueuedWhileDisabled();
            }

            return LogResult.Accepted;
        }

        if (RefuseWhenClosed() is { } refused)
        {
            return refused;
        }

        _metrics.Dropped(DropReason.QueueFull);
        _sender.NoteTrouble();
        OnQueueFull();
        return LogResult.Rejected(LogStatus.QueueFull, $"The Comet MPM queue is full ({_queue.Capacity} events): the backend is slower than the logging rate or unreachable. Raise CometMpm:QueueCapacity or check the connection.");
    }

    private void OnQueueFull()
    {
        var drops = Interlocked.Increment(ref _queueFullDrops);
        var now = _timeProvider.GetTimestamp();
        var last = Interlocked.Read(ref _lastQueueFullWarning);
        if ((last == 0 || _timeProvider.GetElapsedTime(last, now) >= QueueFullWarningInterval)
            && Interlocked.CompareExchange(ref _lastQueueFullWarning, now, last) == last)
        {
            Log.QueueFull(_logger, _queue.Capacity, _options.FullQueuePolicy, drops);
        }
    }

    private LogResult? RefuseWhenClosed()
    {
        switch (Volatile.Read(ref _state))
        {
            case Running:
                return null;
            case DisabledByHealthCheck:
                _metrics.Dropped(DropReason.Disabled);
                return LogResult.Rejected(LogStatus.Disabled, "Comet MPM is disabled because the start-up health check failed; see GetLoggingErrors() and the log for the reason.");
            default:
                _metrics.Dropped(DropReason.Shutdown);
                return LogResult.Rejected(LogStatus.Ended, "This Comet MPM client has already been ended (EndAsync or application shutdown); nothing more can be logged.");
        }
    }

    private LogResult RefuseInvalid(string message)
    {
        _metrics.Dropped(DropReason.Invalid);
        Log.EventRefused(_logger, message);
        if (_options.ThrowOnInvalidInput)
        {
            throw new ArgumentException(message);
        }

        return LogResult.Rejected(LogStatus.InvalidInput, message);
    }

    private void WarnDeprecatedOnce(bool used)
    {
        if (used && Interlocked.Exchange(ref _deprecationWarned, 1) == 0)
        {
            Log.DeprecatedArguments(_logger);
        }
    }

    private long TimestampMs(DateTimeOffset? timestamp) => (timestamp ?? _timeProvider.GetUtcNow()).ToUnixTimeMilliseconds();
}
