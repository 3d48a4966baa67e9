namespace CometMpm;

/// <summary>
/// Logs prediction events and ground-truth labels to Comet Model Production Monitoring.
/// Logging calls validate their input on the calling thread, queue the event and return at once:
/// they never block on the network and never throw because of a runtime condition
/// (a full queue, a failing backend). Batching, serialization and sending happen in the background.
/// </summary>
public interface ICometMpm
{
    /// <summary>Logs a prediction (the counterpart of the Python <c>log_event</c>).</summary>
    /// <param name="predictionId">The unique prediction id; a repeated id is ignored by Comet.</param>
    /// <param name="inputFeatures">The model's input features: a flat map of names to scalars (string, bool, integer, floating-point number or null).
    /// When not null it is sent even if empty; NaN and ±Infinity are sent as null (a missing value).</param>
    /// <param name="outputFeatures">The model's output features; sent when not empty.</param>
    /// <param name="labels">Ground-truth labels known already; sent when not empty.</param>
    /// <param name="timestamp">When the prediction happened; the current time when null. Sent in whole milliseconds.</param>
    /// <returns>Whether the event was queued, and if not, why.</returns>
    LogResult LogEvent(
        string predictionId,
        IReadOnlyDictionary<string, object?>? inputFeatures = null,
        IReadOnlyDictionary<string, object?>? outputFeatures = null,
        IReadOnlyDictionary<string, object?>? labels = null,
        DateTimeOffset? timestamp = null);

    /// <summary>Logs a prediction with the deprecated output value and probability of the Python SDK.</summary>
    /// <param name="predictionId">The unique prediction id.</param>
    /// <param name="inputFeatures">The model's input features.</param>
    /// <param name="outputValue">Deprecated: becomes the output feature <c>value</c>.</param>
    /// <param name="outputProbability">Deprecated: becomes the output feature <c>probability</c>; must be within 0..1.</param>
    /// <param name="outputFeatures">Output features; an entry named <c>value</c> or <c>probability</c> wins over the deprecated argument.</param>
    /// <param name="labels">Ground-truth labels known already.</param>
    /// <param name="timestamp">When the prediction happened.</param>
    /// <returns>Whether the event was queued, and if not, why.</returns>
    [Obsolete("outputValue and outputProbability are deprecated, as in the Python SDK: pass them in outputFeatures as \"value\" and \"probability\".")]
    LogResult LogEvent(
        string predictionId,
        IReadOnlyDictionary<string, object?>? inputFeatures,
        object? outputValue,
        double? outputProbability,
        IReadOnlyDictionary<string, object?>? outputFeatures = null,
        IReadOnlyDictionary<string, object?>? labels = null,
        DateTimeOffset? timestamp = null);

    /// <summary>Logs the ground truth of an earlier prediction (the counterpart of the Python <c>log_label</c>).</summary>
    /// <param name="predictionId">The id of the prediction the labels belong to.</param>
    /// <param name="labels">The labels: a flat map of names to scalars; null sends an empty map, as the Python SDK does.</param>
    /// <param name="timestamp">When the label became known; the current time when null.</param>
    /// <returns>Whether the event was queued, and if not, why.</returns>
    LogResult LogLabel(string predictionId, IReadOnlyDictionary<string, object?>? labels, DateTimeOffset? timestamp = null);

    /// <summary>Logs a ground truth with the deprecated single <c>label</c> of the Python SDK.</summary>
    /// <param name="predictionId">The id of the prediction the label belongs to.</param>
    /// <param name="label">Deprecated: sent as the label <c>value</c>.</param>
    /// <param name="labels">Further labels; the caller's map is copied, never changed.</param>
    /// <param name="timestamp">When the label became known.</param>
    /// <returns>Whether the event was queued, and if not, why.</returns>
    [Obsolete("label is deprecated, as in the Python SDK: pass labels, e.g. new Dictionary<string, object?> { [\"value\"] = label }.")]
    LogResult LogLabel(string predictionId, object? label, IReadOnlyDictionary<string, object?>? labels = null, DateTimeOffset? timestamp = null);

    /// <summary>Sends everything queued so far without waiting for the batch time, and waits until it is settled.</summary>
    /// <param name="cancellationToken">Stops waiting (the events stay queued).</param>
    /// <returns>True when every event this client accepted so far has been delivered; false when any accepted event was
    /// dropped or failed (see <see cref="GetLoggingErrors"/> and the <c>cometmpm.events.dropped</c> metric), or the wait was cancelled.
    /// Events refused at the call (see <see cref="LogResult"/>) were never accepted and do not count.</returns>
    Task<bool> FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Sends what is queued and closes the client (the counterpart of the Python <c>end</c>). Afterwards logging
    /// returns <see cref="LogStatus.Ended"/> and uploads throw <see cref="CometMpmException"/>. Calling it again waits for the first call's outcome.</summary>
    /// <param name="timeout">How long sending may take; <see cref="CometMpmOptions.EndTimeout"/> when null. What is left after it is
    /// counted as dropped (<c>shutdown</c>) and its count is logged.</param>
    /// <returns>True when everything accepted was delivered.</returns>
    Task<bool> EndAsync(TimeSpan? timeout = null);

    /// <summary>Deprecated alias of <see cref="EndAsync"/>, as <c>join</c> is in the Python SDK.</summary>
    /// <param name="timeout">See <see cref="EndAsync"/>.</param>
    /// <returns>See <see cref="EndAsync"/>.</returns>
    [Obsolete("JoinAsync is deprecated, as join is in the Python SDK: use EndAsync.")]
    Task<bool> JoinAsync(TimeSpan? timeout = null);

    /// <summary>
    /// Uploads a CSV file as a dataset (the counterpart of the Python <c>upload_dataset_csv</c>, protocol §10): a multipart
    /// POST streamed from disk, never loaded into memory. The header line is read and checked first, so a wrong file fails
    /// before any byte is sent. A file larger than <see cref="CometMpmOptions.CsvChunkSizeMb"/> is sent in several requests,
    /// cut at line ends, each starting with the header line. The server's progress lines go to <paramref name="progress"/>
    /// and the log. Unlike the Python SDK, failures are raised, not only logged.
    /// </summary>
    /// <param name="filePath">The CSV file. Its first line is the header: <c>timestamp</c> (milliseconds since the Unix epoch),
    /// <c>predictionId</c>, <c>feature_*</c>, <c>prediction_*</c> and <c>label_value_*</c> columns. <see cref="DatasetType.Events"/> and
    /// <see cref="DatasetType.TrainingEvents"/> need at least one <c>feature_</c> column; <see cref="DatasetType.LateLabels"/> needs
    /// <c>predictionId</c> and at least one <c>label_value_</c> column.</param>
    /// <param name="datasetType">What the rows are added to.</param>
    /// <param name="datasetName">The dataset's name: required for <see cref="DatasetType.TrainingEvents"/>; for the other types it
    /// replaces the model name, as in the Python SDK.</param>
    /// <param name="naValues">Extra tokens the server reads as missing values, comma-separated (sent as <c>NAValues</c>).</param>
    /// <param name="keepDefaultNaValues">Whether the server's default missing-value tokens (<c>None</c>, empty, <c>null</c>,
    /// <c>NULL</c>, <c>N/A</c>, <c>NA</c>, <c>NaN</c>, <c>n/a</c>, <c>nan</c>) still apply next to <paramref name="naValues"/>;
    /// not sent when null.</param>
    /// <param name="progress">Receives each line the server answers with, as it arrives.</param>
    /// <param name="cancellationToken">Stops the upload; requests already answered stay uploaded.</param>
    /// <returns>What was sent and the server's messages. A client disabled by configuration sends nothing and returns a result
    /// with <see cref="DatasetUploadResult.Uploaded"/> false (the arguments are still checked).</returns>
    /// <exception cref="ArgumentException"><paramref name="datasetName"/> is missing for <see cref="DatasetType.TrainingEvents"/>,
    /// or another argument is invalid.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is empty or its header is not valid; the message names the unknown columns.</exception>
    /// <exception cref="CometMpmBackendException">The backend answered with an error (see <see cref="CometMpmBackendException.StatusCode"/>;
    /// the message holds the server's), or could not be reached (<see cref="CometMpmBackendNotAvailableException"/>), after the retries.</exception>
    Task<DatasetUploadResult> UploadDatasetCsvAsync(
        string filePath,
        DatasetType datasetType,
        string? datasetName = null,
        string? naValues = null,
        bool? keepDefaultNaValues = null,
        IProgress<string>? progress = null,
        CancellationToken cancellationToken = default);

    /// <summary>True when a send or start-up error has been recorded and not yet cleared (Python <c>has_logging_error</c>).</summary>
    bool HasLoggingError { get; }

    /// <summary>Returns the recorded send and start-up errors (Python <c>get_logging_errors</c>).</summary>
    /// <param name="clear">Whether to clear the record.</param>
    /// <returns>The errors, oldest first.</returns>
    IReadOnlyList<CometMpmLoggingError> GetLoggingErrors(bool clear = true);
}

/// <summary>A recorded failure to deliver events or to reach the backend.</summary>
/// <param name="Message">What went wrong (never contains the API key).</param>
/// <param name="Timestamp">When it happened.</param>
/// <param name="AffectedEventCount">How many events were not delivered because of it.</param>
/// <param name="AffectedPredictionIds">The prediction ids of the first affected events (at most 100).</param>
public sealed record CometMpmLoggingError(
    string Message,
    DateTimeOffset Timestamp,
    int AffectedEventCount,
    IReadOnlyList<string> AffectedPredictionIds);
