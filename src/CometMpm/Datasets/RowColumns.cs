namespace CometMpm;

/// <summary>
/// Which columns of a table become which parts of the prediction events, with the arguments of the Python
/// <c>log_dataframe</c>. Column names are used unchanged as feature, output and label names (protocol §11).
/// </summary>
/// <param name="predictionIdColumn">The column holding the prediction ids (sent as strings; a row without one is rejected).</param>
public sealed class RowColumns(string predictionIdColumn)
{
    /// <summary>The column holding the prediction ids (Python <c>prediction_id_column</c>).</summary>
    public string PredictionIdColumn { get; } = string.IsNullOrWhiteSpace(predictionIdColumn)
        ? throw new ArgumentException("predictionIdColumn is required: the column holding each row's prediction id.", nameof(predictionIdColumn))
        : predictionIdColumn;

    /// <summary>The input feature columns (Python <c>feature_columns</c>). When null or empty no <c>features</c> are sent.</summary>
    public IReadOnlyList<string>? FeatureColumns { get; init; }

    /// <summary>The output feature columns (Python <c>output_features_columns</c>), sent as <c>prediction</c>.</summary>
    public IReadOnlyList<string>? OutputFeaturesColumns { get; init; }

    /// <summary>Deprecated, as in the Python SDK (<c>output_value_column</c>): the column sent as the output feature
    /// <c>value</c>, merged with <see cref="OutputFeaturesColumns"/> as protocol §4.5 describes (an output feature column
    /// named <c>value</c> wins). Prefer naming the column in <see cref="OutputFeaturesColumns"/>.</summary>
    public string? OutputValueColumn { get; init; }

    /// <summary>Deprecated, as in the Python SDK (<c>output_probability_column</c>): the column sent as the output feature
    /// <c>probability</c> (a number within 0..1; a row outside it is rejected).</summary>
    public string? OutputProbabilityColumn { get; init; }

    /// <summary>The label columns (Python <c>labels_columns</c>), sent inline as <c>labels</c>.</summary>
    public IReadOnlyList<string>? LabelsColumns { get; init; }

    /// <summary>The timestamp column (Python <c>timestamp_column</c>) in <b>seconds</b> since the Unix epoch (UTC), sent as
    /// <c>(long)(seconds * 1000.0)</c> milliseconds; a <see cref="DateTime"/> (UTC when unspecified) or <see cref="DateTimeOffset"/>
    /// cell is accepted too. Empty cells, and all rows when null, get the time of logging.</summary>
    public string? TimestampColumn { get; init; }
}

/// <summary>How row logging behaves.</summary>
public sealed class RowLoggingOptions
{
    /// <summary>How many rejected rows are reported with their reasons in <see cref="RowLoggingResult.Rejections"/>. Default 10.</summary>
    public int MaxReportedRejections { get; init; } = 10;

    /// <summary>
    /// How long row logging waits for room when the client's queue is full before it gives up on waiting.
    /// Row logging is for batch jobs, which want backpressure rather than drops: while the queue is full it asks the
    /// sender to send at once and waits until events leave the queue. Only when nothing leaves it for this long (the
    /// backend is down) are rows handed to the queue anyway and dropped under its <see cref="FullQueuePolicy"/>, counted in
    /// <see cref="RowLoggingResult.Dropped"/>; waiting resumes as soon as the queue has room again. Default 30 s;
    /// <see cref="TimeSpan.Zero"/> never waits.
    /// </summary>
    public TimeSpan MaxQueueWait { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>The outcome of logging rows.</summary>
/// <param name="Rows">How many rows were read.</param>
/// <param name="Logged">How many rows were queued as prediction events (call <see cref="ICometMpm.FlushAsync"/> to wait for their delivery).</param>
/// <param name="Rejected">How many rows were invalid and not logged (see <paramref name="Rejections"/>).</param>
/// <param name="Dropped">How many valid rows the client refused: the queue stayed full, or the client is disabled or ended.</param>
/// <param name="Rejections">The first rejected rows (see <see cref="RowLoggingOptions.MaxReportedRejections"/>) with their reasons.</param>
public sealed record RowLoggingResult(long Rows, long Logged, long Rejected, long Dropped, IReadOnlyList<RowRejection> Rejections);

/// <summary>A row that was not logged, and why.</summary>
/// <param name="Row">The row's number: 1 for the first data row (the header line of a CSV file is not counted).</param>
/// <param name="Reason">What is wrong with it, naming the column.</param>
public readonly record struct RowRejection(long Row, string Reason);
