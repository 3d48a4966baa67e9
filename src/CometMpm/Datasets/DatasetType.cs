namespace CometMpm;

/// <summary>What a CSV dataset upload (<see cref="ICometMpm.UploadDatasetCsvAsync"/>) adds to (Python <c>dataset_type</c>).</summary>
public enum DatasetType
{
    /// <summary><c>EVENTS</c>: each row is a production prediction of the model (<c>POST {mpm}/v2/data/events/csv</c>).</summary>
    Events = 0,

    /// <summary><c>LATE_LABELS</c>: each row is a ground truth joined to an earlier prediction by its <c>predictionId</c>
    /// (<c>POST {mpm}/v2/data/labels/csv</c>).</summary>
    LateLabels = 1,

    /// <summary><c>TRAINING_EVENTS</c>: each row belongs to the named reference (training) dataset drift is measured against
    /// (<c>POST {mpm}/v2/dataset/events/csv</c>); a dataset name is required.</summary>
    TrainingEvents = 2,
}

/// <summary>The outcome of a CSV dataset upload.</summary>
/// <param name="Uploaded">True when the file was sent and every request was answered with a success status;
/// false only when the client is disabled by configuration and nothing was sent (see <see cref="Message"/>).</param>
/// <param name="DatasetType">The kind of dataset the rows were added to.</param>
/// <param name="Requests">How many multipart requests were sent: 1, or the number of chunks of a file above
/// <see cref="CometMpmOptions.CsvChunkSizeMb"/>.</param>
/// <param name="BytesSent">How many bytes of CSV were sent, the header repeated on every chunk included.</param>
/// <param name="ServerMessages">The progress lines the server answered with, in order (at most the last 1,000).</param>
/// <param name="Elapsed">How long the upload took.</param>
/// <param name="Message">A summary for people: what was sent, or why nothing was.</param>
public sealed record DatasetUploadResult(
    bool Uploaded,
    DatasetType DatasetType,
    int Requests,
    long BytesSent,
    IReadOnlyList<string> ServerMessages,
    TimeSpan Elapsed,
    string Message);
