using CometMpm.Configuration;
using CometMpm.Datasets;
using CometMpm.Delivery;
using CometMpm.Diagnostics;
using CometMpm.Events;
using CometMpm.Persistence;
using CometMpm.Queue;
using CometMpm.Serialization;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm;

/// <summary>
/// The client behind <see cref="ICometMpm"/>, a thin facade: it validates on the caller's thread (through
/// <see cref="EventFactory"/>), queues, and forwards the rest to the <see cref="DeliveryStage"/> (flush, end, health)
/// and the <see cref="DatasetUploader"/>.
/// </summary>
/// <remarks>Over 300 lines because it implements the whole public <see cref="ICometMpm"/> surface (deprecated overloads
/// included) plus the internal producer interface; each member validates or forwards, nothing more.</remarks>
internal sealed class CometMpmClient : ICometMpm, IPreparedEventSink, IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan QueueFullWarningInterval = TimeSpan.FromSeconds(10);

    private readonly CometMpmOptions _options;
    private readonly ModelIdentity _model;
    private readonly RecentSchemas _schemas = new();
    private readonly TimeProvider _timeProvider;
    private readonly CometMpmMetrics _metrics;
    private readonly ILogger _logger;
    private readonly EventQueue _queue;
    private readonly SettlementLedger _ledger;
    private readonly LoggingErrorStore _errors;
    private readonly Outbox? _outbox;
    private readonly string? _outboxError;
    private readonly DeliveryStage _stage;
    private readonly DatasetUploader _uploader;
    private readonly LogThrottle _queueFullLog;
    private int _deprecationWarned;
    private long _queueFullDrops;

    public CometMpmClient(
        string name,
        CometMpmOptions options,
        IHttpClientFactory httpClientFactory,
        TimeProvider timeProvider,
        CometMpmInstruments instruments,
        ILoggerFactory loggerFactory)
    {
        _options = options;
        _timeProvider = timeProvider;
        _logger = new NonThrowingLogger(loggerFactory.CreateLogger("CometMpm"));
        _model = new ModelIdentity(options.WorkspaceName!, options.ModelName!, options.ModelVersion!);
        var metrics = _metrics = instruments.ForClient(name, _model);
        _errors = new LoggingErrorStore(timeProvider);
        _ledger = new SettlementLedger(metrics, timeProvider);
        _queueFullLog = new LogThrottle(timeProvider, QueueFullWarningInterval);
        _queue = new EventQueue(options.QueueCapacity, options.MaxQueueBytes, options.FullQueuePolicy, options.FullQueueWaitTimeout, _ledger);
        _queue.EvictedOldest += OnQueueFull;
        var address = ServerAddress.From(options.ApiKey, options.UrlOverride, options.BasePath);
        if (address.Warning is { } warning)
        {
            Log.ConfigurationWarning(_logger, warning);
        }

        if (!string.IsNullOrWhiteSpace(options.Outbox.Directory))
        {
            _outbox = Outbox.TryOpen(options.Outbox, timeProvider, metrics, _ledger, _logger, out _outboxError);
            if (_outboxError is not null)
            {
                Log.OutboxUnavailable(_logger, _outboxError);
                _errors.Add(_outboxError);
            }
        }

        var circuitFate = _outbox is null
            ? "Batches wait in memory; when the queue is full, new events are dropped (queue_full)."
            : $"Batches go to the outbox ({_outbox.Directory}).";
        var transport = new MpmTransport(httpClientFactory, address, options, new SendGate(options, timeProvider, circuitFate, _logger), timeProvider, metrics, _logger);
        _stage = new DeliveryStage(name, options, _queue, transport, _ledger, _errors, _outbox, metrics, timeProvider, _logger);
        _uploader = new DatasetUploader(transport, _stage.Check, _model, options, _logger);
        MpmBase = address.MpmBase;
        metrics.SetQueueDepthSource(() => _queue.Count);
        Log.Started(_logger, metrics.ClientName, address.MpmBase, _model.WorkspaceName, _model.ModelName, _model.ModelVersion);
    }

    internal Uri MpmBase { get; }

    internal TimeSpan EndTimeout => _options.EndTimeout;

    internal DateTimeOffset PausedUntil => _stage.Gate.PausedUntil;

    /// <summary>The background loops; complete when the client has ended.</summary>
    internal Task Completion => _stage.Completion;

    internal EventQueue Queue => _queue;

    /// <summary>Completes when the start-up health check has finished (whatever its outcome).</summary>
    internal Task HealthChecked => _stage.Check.Completed;

    /// <summary>The ledger's totals now: for a process that started with an empty outbox, nothing is unaccounted.</summary>
    internal LedgerSnapshot Ledger => _ledger.Snapshot(_outbox?.Events ?? 0, _queue.Count + _stage.Worker.InHand);

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

        var error = EventFactory.TryCreatePrediction(_model, predictionId, inputFeatures, outputFeatures, labels, TimestampMs(timestamp), out var mpmEvent, _schemas);
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

        var error = EventFactory.TryCreateLabel(_model, predictionId, labels, TimestampMs(timestamp), out var mpmEvent, _schemas);
        return error is null ? Enqueue(mpmEvent!) : RefuseInvalid(error);
    }

    [Obsolete("See ICometMpm.")]
    public LogResult LogLabel(string predictionId, object? label, IReadOnlyDictionary<string, object?>? labels = null, DateTimeOffset? timestamp = null)
    {
        WarnDeprecatedOnce(true);
        return LogLabel(predictionId, EventFactory.MergeDeprecatedLabel(label, labels), timestamp);
    }

    public LogResult LogPrepared(string predictionId, FeatureMap inputFeatures, FeatureMap outputFeatures, FeatureMap labels, DateTimeOffset? timestamp = null)
    {
        if (RefuseWhenClosed() is { } refused)
        {
            return refused;
        }

        var error = EventFactory.TryCreatePrepared(_model, predictionId, inputFeatures, outputFeatures, labels, TimestampMs(timestamp), out var mpmEvent);
        return error is null ? Enqueue(mpmEvent!) : RefuseInvalid(error);
    }

    public Task<bool> FlushAsync(CancellationToken cancellationToken = default) => _stage.FlushAsync(cancellationToken);

    public Task<bool> EndAsync(TimeSpan? timeout = null) => EndAsync(timeout ?? _options.EndTimeout, CancellationToken.None);

    [Obsolete("See ICometMpm.")]
    public Task<bool> JoinAsync(TimeSpan? timeout = null) => EndAsync(timeout);

    /// <summary>Ends the client within <paramref name="timeout"/>, or sooner when <paramref name="hostStopping"/> fires.</summary>
    internal Task<bool> EndAsync(TimeSpan timeout, CancellationToken hostStopping)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        return _stage.EndAsync(timeout, hostStopping);
    }

    /// <summary>Called by the hosted service at application start.</summary>
    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.RaiseOnErrorDuringInit)
        {
            if (_outboxError is not null)
            {
                throw new CometMpmException(_outboxError);
            }

            // Fails application start with the reason, bounded by the ping timeout.
            await _stage.Check.RunAsync(raise: true, cancellationToken).ConfigureAwait(false);
        }

        _ = _stage.EnsureStarted();
    }

    public Task<DatasetUploadResult> UploadDatasetCsvAsync(
        string filePath,
        DatasetType datasetType,
        string? datasetName = null,
        string? naValues = null,
        bool? keepDefaultNaValues = null,
        IProgress<string>? progress = null,
        CancellationToken cancellationToken = default)
        => UploadDatasetCsvAsync(filePath, datasetType, datasetName, naValues, keepDefaultNaValues, progress, bytesSent: null, cancellationToken);

    /// <summary>The upload, with a callback for the bytes sent so far (the command-line tool's progress bar).</summary>
    internal Task<DatasetUploadResult> UploadDatasetCsvAsync(string filePath, DatasetType datasetType, string? datasetName, string? naValues, bool? keepDefaultNaValues, IProgress<string>? progress, Action<long>? bytesSent, CancellationToken cancellationToken)
    {
        if (_stage.IsEnding)
        {
            return Task.FromException<DatasetUploadResult>(new CometMpmException($"'{filePath}' was not uploaded: this Comet MPM client has already been ended (EndAsync or application shutdown)."));
        }

        _ = _stage.EnsureStarted(); // the upload waits for the start-up check
        return _uploader.UploadAsync(filePath, datasetType, datasetName, naValues, keepDefaultNaValues, progress, bytesSent, cancellationToken);
    }

    public ValueTask<bool> WaitForQueueSpaceAsync(TimeSpan maxWait, CancellationToken cancellationToken) =>
        _stage.WaitForQueueSpaceAsync(HasQueueRoom, maxWait, cancellationToken);

    public async Task<(bool IsSuccess, int StatusCode, string Detail)> PingBackendAsync(CancellationToken cancellationToken)
    {
        var result = await _stage.Check.PingAsync(cancellationToken).ConfigureAwait(false);
        return (result.IsSuccess, result.StatusCode, result.Detail);
    }

    /// <summary>The client's health (see <see cref="DeliveryHealth"/>).</summary>
    internal (CometMpmHealth Status, string Description) CheckHealth() =>
        DeliveryHealth.Check(_stage.Gate, _ledger, _outbox, _outboxError, _stage.Loop, _stage.IsEnding, _timeProvider, () => $"Sending to {MpmBase}; {_queue.Count} events queued.");

    public async ValueTask DisposeAsync()
    {
        await EndAsync().ConfigureAwait(false);
        _stage.Dispose();
    }

    /// <summary>
    /// Synchronous disposal (a container disposed without a host): it still delivers what is queued, within the end
    /// timeout, and counts what it could not. It blocks the disposing thread for at most that long.
    /// </summary>
    public void Dispose()
    {
        Task.Run(() => EndAsync()).GetAwaiter().GetResult();
        _stage.Dispose();
    }

    /// <summary>Room for one more event: under both bounds of the queue, the count and the approximate bytes.</summary>
    private bool HasQueueRoom() => _queue.Count < _queue.Capacity && _queue.Bytes < _options.MaxQueueBytes;

    private LogResult Enqueue(MpmEvent mpmEvent)
    {
        // JSON escaping can make an event up to about six times its estimate: only a large one is measured, here, so
        // that an event no request could carry is refused at the call rather than failing every batch it joins.
        if (mpmEvent.ApproximateBytes > _options.MaxRequestBytes / 6 && BatchSerializer.MeasureAlone(mpmEvent) is var size && size > _options.MaxRequestBytes)
        {
            return RefuseInvalid($"The event {mpmEvent.PredictionId} takes {size} bytes on the wire, more than one request may carry (CometMpm:MaxRequestBytes = {_options.MaxRequestBytes}). Send fewer or shorter features, or raise CometMpm:MaxRequestBytes if the backend accepts larger requests.");
        }

        _ = _stage.EnsureStarted();
        if (_queue.TryWrite(mpmEvent))
        {
            return LogResult.Accepted;
        }

        if (RefuseWhenClosed() is { } refused)
        {
            return refused;
        }

        _ledger.Refused(DropReason.QueueFull);
        OnQueueFull();
        return LogResult.Rejected(LogStatus.QueueFull, $"The Comet MPM queue is full ({_queue.Capacity} events): the backend is slower than the logging rate or unreachable. Raise CometMpm:QueueCapacity or check the connection.");
    }

    private void OnQueueFull()
    {
        var drops = Interlocked.Increment(ref _queueFullDrops);
        if (_queueFullLog.ShouldLog())
        {
            Log.QueueFull(_logger, _queue.Capacity, _options.FullQueuePolicy, drops);
        }
    }

    private LogResult? RefuseWhenClosed()
    {
        if (_stage.IsEnding)
        {
            _metrics.Dropped(DropReason.Shutdown);
            return LogResult.Rejected(LogStatus.Ended, "This Comet MPM client has already been ended (EndAsync or application shutdown); nothing more can be logged.");
        }

        if (_stage.Gate.IsDisabled)
        {
            _metrics.Dropped(DropReason.Disabled);
            return LogResult.Rejected(LogStatus.Disabled, "Comet MPM is disabled because the start-up health check failed; see GetLoggingErrors() and the log for the reason.");
        }

        return null;
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
