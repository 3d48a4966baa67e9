using Microsoft.Extensions.Logging;

namespace CometMpm.Diagnostics;

/// <summary>Log messages of dataset upload and row logging.</summary>
internal static partial class Log
{
    [LoggerMessage(30, LogLevel.Information, "Comet MPM uploading '{Path}' ({Bytes} bytes) as {DatasetType} in {Chunks} request(s) to {Url}.")]
    public static partial void CsvUploadStarting(ILogger logger, string path, long bytes, string datasetType, string chunks, Uri url);

    [LoggerMessage(31, LogLevel.Information, "Comet MPM CSV upload: {Line}")]
    public static partial void CsvUploadLine(ILogger logger, string line);

    [LoggerMessage(32, LogLevel.Information, "Comet MPM finished uploading '{Path}' in {Seconds:F2} seconds ({Requests} request(s), {Bytes} bytes).")]
    public static partial void CsvUploadFinished(ILogger logger, string path, double seconds, int requests, long bytes);

    [LoggerMessage(33, LogLevel.Error, "Comet MPM error on uploading CSV dataset '{Path}': {Reason}")]
    public static partial void CsvUploadFailed(ILogger logger, string path, string reason);

    [LoggerMessage(34, LogLevel.Warning, "Comet MPM row logging waited {Waited} for queue space without progress; rows logged while the queue stays full are dropped ({Policy}).")]
    public static partial void RowLoggingQueueStalled(ILogger logger, TimeSpan waited, FullQueuePolicy policy);

    [LoggerMessage(35, LogLevel.Information, "Comet MPM logged {Rows} rows: {Logged} queued, {Rejected} rejected, {Dropped} dropped.")]
    public static partial void RowsLogged(ILogger logger, long rows, long logged, long rejected, long dropped);
}
