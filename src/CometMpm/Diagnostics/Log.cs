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

    [LoggerMessage(28, LogLevel.Warning, "Comet MPM client '{Client}' ended: {NotSent} events were not delivered straight away (dropped or kept in the outbox before the end; see cometmpm.events.dropped and the log). Nothing was left when it ended.")]
    public static partial void EndedAfterFailures(ILogger logger, string client, long notSent);

    [LoggerMessage(10, LogLevel.Debug, "Comet MPM retrying {Path} (attempt {Attempt}) in {Delay}: {Reason}")]
    public static partial void Retrying(ILogger logger, string path, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(11, LogLevel.Debug, "Comet MPM refused an event: {Reason}")]
    public static partial void EventRefused(ILogger logger, string reason);

    [LoggerMessage(12, LogLevel.Error, "Comet MPM: an unexpected error in {Stage}; {Count} events in hand are counted as dropped (internal_error) and the stage goes on. {Suppressed} similar errors were not logged.")]
    public static partial void InternalError(ILogger logger, Exception exception, string stage, int count, long suppressed);

    [LoggerMessage(13, LogLevel.Information, "Comet MPM is disabled (CometMpm:Disabled / COMET_MPM_DISABLED); nothing will be sent.")]
    public static partial void Disabled(ILogger logger);

    [LoggerMessage(14, LogLevel.Warning, "Comet MPM: {Count} queued events were dropped because the client is disabled.")]
    public static partial void DroppedWhileDisabled(ILogger logger, long count);

    [LoggerMessage(15, LogLevel.Warning, "Comet MPM outbox: {Path} cannot be read back as a batch ({Reason}); it was moved to {Quarantine} and will not be sent. Its events, when its name tells how many, are counted as dropped (outbox_corrupt).")]
    public static partial void OutboxQuarantined(ILogger logger, string path, string quarantine, string reason);

    [LoggerMessage(16, LogLevel.Information, "Comet MPM outbox: recovered {Count} batches left by stopped processes; they will be replayed.")]
    public static partial void OutboxRecovered(ILogger logger, int count);

    [LoggerMessage(17, LogLevel.Warning, "Comet MPM outbox: dropped the oldest batch of {Count} events ({Reason}; caps: {MaxBytes} bytes, {MaxAge}). Raise CometMpm:Outbox:MaxBytes or MaxAge to keep more.")]
    public static partial void OutboxDropped(ILogger logger, int count, string reason, long maxBytes, TimeSpan maxAge);

    [LoggerMessage(18, LogLevel.Information, "Comet MPM: {Count} {Kind} events written to the outbox ({Reason}); they will be replayed when the backend answers.")]
    public static partial void Spilled(ILogger logger, int count, string kind, string reason);

    [LoggerMessage(19, LogLevel.Error, "Comet MPM: the backend refused the API key (HTTP {Status}). Sending stopped: fix CometMpm:ApiKey (COMET_API_KEY) and restart. {Fate}")]
    public static partial void Unauthorized(ILogger logger, int status, string fate);

    [LoggerMessage(20, LogLevel.Warning, "Comet MPM: the backend refused an event (predictionId {PredictionId}): {Detail}. It is dropped (invalid); the rest of its batch is delivered.")]
    public static partial void PoisonEvent(ILogger logger, string predictionId, string detail);

    [LoggerMessage(21, LogLevel.Warning, "Comet MPM: the backend keeps failing; sending paused for {BreakDuration} (circuit open). {Fate}")]
    public static partial void CircuitOpened(ILogger logger, TimeSpan breakDuration, string fate);

    [LoggerMessage(22, LogLevel.Information, "Comet MPM: the backend answers again; sending resumed.")]
    public static partial void CircuitClosed(ILogger logger);

    [LoggerMessage(23, LogLevel.Information, "Comet MPM outbox: replayed {Count} events from {Path}.")]
    public static partial void Replayed(ILogger logger, int count, string path);

    [LoggerMessage(24, LogLevel.Error, "Comet MPM outbox: could not write to {Directory}: {Reason}. {Count} events are dropped (send_failed).")]
    public static partial void OutboxWriteFailed(ILogger logger, string directory, string reason, int count);

    [LoggerMessage(25, LogLevel.Error, "{Message}")]
    public static partial void OutboxUnavailable(ILogger logger, string message);

    [LoggerMessage(26, LogLevel.Warning, "Comet MPM outbox: {Reason}. Replay retries in {Delay}.")]
    public static partial void OutboxFault(ILogger logger, string reason, TimeSpan delay);

    [LoggerMessage(27, LogLevel.Warning, "Comet MPM outbox: the batch {Path} of {Count} events keeps failing while other requests succeed ({Detail}); {Action}.")]
    public static partial void OutboxPoison(ILogger logger, string path, int count, string detail, string action);
}
