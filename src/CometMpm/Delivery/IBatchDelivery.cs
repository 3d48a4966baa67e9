using CometMpm.Serialization;

namespace CometMpm.Delivery;

/// <summary>
/// One link of the delivery chain (splitting → outbox → HTTP). A link does one job and passes the rest on; it
/// accounts for every event of the payload in the report it returns (delivered, spilled, dropped or unsent), and the
/// loop that called the chain settles that report in the ledger. Links may throw; the loops are supervised.
/// </summary>
internal interface IBatchDelivery
{
    ValueTask<DeliveryReport> DeliverAsync(BatchPayload payload, CancellationToken cancellationToken);
}

/// <summary>Why events came back unsent.</summary>
internal enum SendStatus
{
    /// <summary>Nothing is unsent.</summary>
    None,

    /// <summary>The backend refused the body (400, 413, 422): a bad event in it, or too large.</summary>
    Refused,

    /// <summary>The body is larger than <see cref="CometMpmOptions.MaxRequestBytes"/>; it was not sent.</summary>
    TooLarge,

    /// <summary>The request failed after its retries (connection, timeout, 5xx, redirect, not the MPM backend).</summary>
    Failed,

    /// <summary>The backend refused the API key (401, 403).</summary>
    KeyRefused,

    /// <summary>The gate is closed (circuit open, key refused): no request was made.</summary>
    GateClosed,

    /// <summary>The start-up check disabled the client: nothing is sent, as in the Python SDK.</summary>
    Disabled,

    /// <summary>The end timeout ran out.</summary>
    Cancelled,

    /// <summary>An unexpected exception inside a link.</summary>
    InternalError,
}
