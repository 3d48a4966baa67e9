namespace CometMpm.Diagnostics;

/// <summary>Why an event did not reach the backend; the value of the <c>error.type</c> tag of <c>cometmpm.events.dropped</c>.</summary>
internal static class DropReason
{
    public const string QueueFull = "queue_full";
    public const string Invalid = "invalid";
    public const string SampledOut = "sampled_out";
    public const string SendFailed = "send_failed";
    public const string Shutdown = "shutdown";
    public const string Disabled = "disabled";
    public const string Unauthorized = "unauthorized";
    public const string OutboxFull = "outbox_full";
    public const string OutboxExpired = "outbox_expired";

    /// <summary>An outbox file this library cannot read back; it is moved to <c>quarantine/</c>, never sent, never deleted.</summary>
    public const string OutboxCorrupt = "outbox_corrupt";

    /// <summary>An unexpected failure inside the library (a bug); logged with the exception.</summary>
    public const string InternalError = "internal_error";
}
