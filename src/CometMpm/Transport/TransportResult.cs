namespace CometMpm.Transport;

/// <summary>How one logical request (retries included) ended.</summary>
/// <param name="StatusCode">The final HTTP status, or 0 when no response arrived.</param>
/// <param name="Detail">The server's message (first 1 KB of the body) or the transport error; never the API key.</param>
/// <param name="Cancelled">True when the caller cancelled (for example the end timeout ran out).</param>
/// <param name="NotMpm">True when a 2xx evidently did not come from the MPM backend (an HTML page, a followed redirect).</param>
/// <param name="LastError">When cancelled while retrying: how the last attempt failed (connection refused, ...).</param>
/// <param name="TimedOut">True when the last attempt ran out of <see cref="CometMpmOptions.BatchSendingTimeout"/>.</param>
internal readonly record struct TransportResult(int StatusCode, string Detail, bool Cancelled = false, bool NotMpm = false, string? LastError = null, bool TimedOut = false)
{
    /// <summary>
    /// The <c>error.type</c> of the OpenTelemetry conventions: null on success, else the status code, or the kind of
    /// failure when no (usable) answer came.
    /// </summary>
    public string? ErrorType =>
        IsSuccess ? null
        : Cancelled ? "cancelled"
        : NotMpm ? "not_mpm"
        : TimedOut ? "timeout"
        : StatusCode == 0 ? "connection_error"
        : StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public bool IsSuccess => StatusCode is >= 200 and < 300 && !NotMpm;

    public bool IsUnauthorized => StatusCode is 401 or 403;

    public bool IsRejected => StatusCode is 400 or 413 or 422;
}
