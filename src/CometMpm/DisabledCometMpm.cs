using CometMpm.Diagnostics;

namespace CometMpm;

/// <summary>The client registered when <see cref="CometMpmOptions.Disabled"/> is set: it makes no network call and queues nothing.</summary>
internal sealed class DisabledCometMpm(CometMpmMetrics metrics) : ICometMpm
{
    private static readonly LogResult Refused = LogResult.Rejected(LogStatus.Disabled, "Comet MPM is disabled by configuration (CometMpm:Disabled or COMET_MPM_DISABLED); nothing is sent.");

    public bool HasLoggingError => false;

    public IReadOnlyList<CometMpmLoggingError> GetLoggingErrors(bool clear = true) => [];

    public LogResult LogEvent(string predictionId, IReadOnlyDictionary<string, object?>? inputFeatures = null, IReadOnlyDictionary<string, object?>? outputFeatures = null, IReadOnlyDictionary<string, object?>? labels = null, DateTimeOffset? timestamp = null) => Refuse();

    [Obsolete("See ICometMpm.")]
    public LogResult LogEvent(string predictionId, IReadOnlyDictionary<string, object?>? inputFeatures, object? outputValue, double? outputProbability, IReadOnlyDictionary<string, object?>? outputFeatures = null, IReadOnlyDictionary<string, object?>? labels = null, DateTimeOffset? timestamp = null) => Refuse();

    public LogResult LogLabel(string predictionId, IReadOnlyDictionary<string, object?>? labels, DateTimeOffset? timestamp = null) => Refuse();

    [Obsolete("See ICometMpm.")]
    public LogResult LogLabel(string predictionId, object? label, IReadOnlyDictionary<string, object?>? labels = null, DateTimeOffset? timestamp = null) => Refuse();

    public Task<bool> FlushAsync(CancellationToken cancellationToken = default) => Task.FromResult(true);

    public Task<bool> EndAsync(TimeSpan? timeout = null) => Task.FromResult(true);

    [Obsolete("See ICometMpm.")]
    public Task<bool> JoinAsync(TimeSpan? timeout = null) => Task.FromResult(true);

    /// <summary>Checks the arguments like the real client, then sends nothing: the upload honours the disabled state.</summary>
    public Task<DatasetUploadResult> UploadDatasetCsvAsync(string filePath, DatasetType datasetType, string? datasetName = null, string? naValues = null, bool? keepDefaultNaValues = null, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        _ = Datasets.DatasetUploadRequest.Prepare(new Events.ModelIdentity("", "", ""), filePath, datasetType, datasetName, naValues, keepDefaultNaValues);
        return Task.FromResult(new DatasetUploadResult(false, datasetType, 0, 0, [], TimeSpan.Zero, $"Comet MPM is disabled by configuration (CometMpm:Disabled or COMET_MPM_DISABLED); '{filePath}' was not uploaded."));
    }

    private LogResult Refuse()
    {
        metrics.Dropped(DropReason.Disabled);
        return Refused;
    }
}
