namespace CometMpm;

/// <summary>The outcome of a logging call: whether the event entered the send queue, and if not, why.</summary>
public readonly struct LogResult : IEquatable<LogResult>
{
    private LogResult(LogStatus status, string? message)
    {
        Status = status;
        Message = message;
    }

    /// <summary>An accepted event.</summary>
    public static LogResult Accepted => default;

    /// <summary>What happened to the event.</summary>
    public LogStatus Status { get; }

    /// <summary>Why the event was refused, naming the field and the fix; <see langword="null"/> when accepted.</summary>
    public string? Message { get; }

    /// <summary>True when the event entered the send queue.</summary>
    public bool IsAccepted => Status == LogStatus.Accepted;

    /// <summary>Creates a refusal.</summary>
    /// <param name="status">Why the event was refused; must not be <see cref="LogStatus.Accepted"/>.</param>
    /// <param name="message">The explanation.</param>
    /// <returns>The result.</returns>
    public static LogResult Rejected(LogStatus status, string message) => new(status, message);

    /// <inheritdoc/>
    public bool Equals(LogResult other) => Status == other.Status && Message == other.Message;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is LogResult other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Status, Message);

    /// <inheritdoc/>
    public override string ToString() => Message is null ? Status.ToString() : $"{Status}: {Message}";

    /// <summary>Compares two results.</summary>
    /// <param name="left">A result.</param>
    /// <param name="right">Another result.</param>
    /// <returns>True when equal.</returns>
    public static bool operator ==(LogResult left, LogResult right) => left.Equals(right);

    /// <summary>Compares two results.</summary>
    /// <param name="left">A result.</param>
    /// <param name="right">Another result.</param>
    /// <returns>True when different.</returns>
    public static bool operator !=(LogResult left, LogResult right) => !left.Equals(right);
}

/// <summary>What happened to a logged event.</summary>
public enum LogStatus
{
    /// <summary>The event is queued and will be sent in a batch.</summary>
    Accepted = 0,

    /// <summary>The input was invalid (see <see cref="LogResult.Message"/>); nothing was queued.</summary>
    InvalidInput = 1,

    /// <summary>The queue was full and the event was dropped.</summary>
    QueueFull = 2,

    /// <summary>The client is disabled (by configuration or by a failed start-up health check).</summary>
    Disabled = 3,

    /// <summary>The client was ended; nothing more can be logged.</summary>
    Ended = 4,
}
