using Microsoft.Extensions.Logging;

namespace CometMpm.Diagnostics;

/// <summary>Source-generated log messages. None of them carries the API key.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Comet MPM client '{Client}' sends to {MpmBase} for {Workspace}/{Model}/{Version}.")]
    public static partial void Started(ILogger logger, string client, Uri mpmBase, string workspace, string model, string version);

    [LoggerMessage(2, LogLevel.Warning, "Comet MPM: {Warning}")]
    public static partial void ConfigurationWarning(ILogger logger, string warning);

    [LoggerMessage(3, LogLevel.Error, "Comet MPM connection failed during initialization: {Reason} Logging is disabled for '{Client}'; events will be counted as dropped (disabled).")]
    public static partial void PingFailedDisabled(ILogger logger, string client, string reason);

    [LoggerMessage(4, LogLevel.Warning, "Comet MPM could not reach the backend during initialization: {Reason} Events stay queued and are retried.")]
    public static partial void PingUnreachable(ILogger logger, string reason);

    [LoggerMessage(5, LogLevel.Error, "Error sending batch data to the backend: {Count} {Kind} events to {Path} not delivered ({Reason}). {Detail}")]
    public static partial void BatchFailed(ILogger logger, int count, string kind, string path, string reason, string detail);

    [LoggerMessage(6, LogLevel.Warning, "Comet MPM queue is full (capacity {Capacity}); events are dropped ({Policy}). {Dropped} dropped so far.")]
    public static partial void QueueFull(ILogger logger, int capacity, FullQueuePolicy policy, long dropped);

    [LoggerMessage(7, LogLevel.Warning, "Comet MPM: outputValue/outputProbability and label are deprecated, as in the Python SDK; pass them in outputFeatures and labels.")]
    public static partial void DeprecatedArguments(ILogger logger);

    [LoggerMessage(8, LogLevel.Information, "Comet MPM client '{Client}' ended: every event was delivered.")]
    public static partial void EndedClean(ILogger logger, string client);

    [LoggerMessage(9, LogLevel.Warning, "Comet MPM client '{Client}' ended: {NotSent} events were not sent ({Shutdown} still queued when the end timeout of {Timeout} ran out, {Failed} failed earlier). Raise CometMpm:EndTimeout (COMET_MPM_JOIN_TIMEOUT) if the backend is slow.")]
    public static partial void EndedWithLosses(ILogger logger, string client, long notSent, long shutdown, long failed, TimeSpan timeout);

    [LoggerMessage(10, LogLevel.Debug, "Comet MPM retrying {Path} (attempt {Attempt}) in {Delay}: {Reason}")]
    public static partial void Retrying(ILogger logger, string path, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(11, LogLevel.Debug, "Comet MPM refused an event: {Reason}")]
    public static partial void EventRefused(ILogger logger, string reason);

    [LoggerMessage(12, LogLevel.Error, "Comet MPM sender failed unexpectedly; the batch is counted as dropped (send_failed).")]
    public static partial void SenderFault(ILogger logger, Exception exception);

    [LoggerMessage(13, LogLevel.Information, "Comet MPM is disabled (CometMpm:Disabled / COMET_MPM_DISABLED); nothing will be sent.")]
    public static partial void Disabled(ILogger logger);

    [LoggerMessage(14, LogLevel.Warning, "Comet MPM: {Count} queued events were dropped because the client is disabled.")]
    public static partial void DroppedWhileDisabled(ILogger logger, long count);
}
