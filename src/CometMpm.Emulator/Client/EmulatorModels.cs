using System.Text.Json;

namespace CometMpm.Emulator;

/// <summary>What the emulator stored for one workspace, model and version.</summary>
/// <param name="Workspace">The workspace name.</param>
/// <param name="Model">The model name.</param>
/// <param name="Version">The model version.</param>
/// <param name="Predictions">Distinct prediction events stored (duplicates ignored).</param>
/// <param name="Labels">Distinct prediction ids that have labels, joined to a prediction or still waiting for it.</param>
/// <param name="Datasets">Rows received through the <c>TRAINING_EVENTS</c> dataset CSV upload.</param>
public sealed record EmulatorModelSummary(
    string Workspace,
    string Model,
    string Version,
    long Predictions,
    long Labels,
    long Datasets);

/// <summary>A stored prediction, with the labels joined to it.</summary>
/// <param name="Sequence">Arrival sequence number; use it as the <c>after</c> cursor.</param>
/// <param name="Workspace">The workspace name.</param>
/// <param name="Model">The model name.</param>
/// <param name="Version">The model version.</param>
/// <param name="PredictionId">The prediction id as received: a JSON string or a JSON integer.</param>
/// <param name="Timestamp">The event timestamp in milliseconds since the Unix epoch.</param>
/// <param name="Features">The input features, or <see langword="null"/> when the event had none.</param>
/// <param name="Prediction">The output features, or <see langword="null"/> when the event had none.</param>
/// <param name="Labels">The labels (inline and late), or <see langword="null"/> when there are none.</param>
public sealed record EmulatorStoredEvent(
    long Sequence,
    string Workspace,
    string Model,
    string Version,
    JsonElement PredictionId,
    long Timestamp,
    IReadOnlyDictionary<string, JsonElement>? Features,
    IReadOnlyDictionary<string, JsonElement>? Prediction,
    IReadOnlyDictionary<string, JsonElement>? Labels);

/// <summary>One page of stored predictions in arrival order.</summary>
/// <param name="Events">The predictions of this page.</param>
/// <param name="NextCursor">The cursor to pass as <c>after</c> for the next page.</param>
/// <param name="HasMore">Whether more predictions follow this page.</param>
public sealed record EmulatorEventsPage(
    IReadOnlyList<EmulatorStoredEvent> Events,
    long NextCursor,
    bool HasMore);

/// <summary>A request the emulator received on its ingestion endpoints (or on no endpoint at all).</summary>
/// <param name="Time">When the request arrived (UTC).</param>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">The path and query string.</param>
/// <param name="Status">The response status; 0 when the connection was dropped.</param>
/// <param name="Headers">The request headers; the <c>Authorization</c> value is masked.</param>
/// <param name="BodySize">The number of request body bytes read.</param>
/// <param name="DurationMs">How long the request took, in milliseconds.</param>
/// <param name="Fault">The injected fault applied to the request, if any.</param>
public sealed record EmulatorRequestRecord(
    DateTimeOffset Time,
    string Method,
    string Path,
    int Status,
    IReadOnlyDictionary<string, string> Headers,
    long BodySize,
    double DurationMs,
    string? Fault);

/// <summary>
/// Faults to inject on the ingestion endpoints (never on <c>/api/emulator/*</c>).
/// Every part is optional; a new plan replaces the previous one.
/// </summary>
public sealed record EmulatorFaultPlan
{
    /// <summary>Answer the next <see cref="EmulatorNextRequestsFault.Count"/> ingestion requests with a status.</summary>
    public EmulatorNextRequestsFault? NextRequests { get; init; }

    /// <summary>Delay added before every ingestion request is handled, in milliseconds.</summary>
    public int? LatencyMs { get; init; }

    /// <summary>Probability (0 to 1) that an ingestion request has its connection aborted.</summary>
    public double? DropConnectionProbability { get; init; }

    /// <summary>A time window during which every ingestion request gets a status.</summary>
    public EmulatorOutageFault? Outage { get; init; }

    /// <summary>Prediction ids that make a batch containing them answer 400 naming the event.</summary>
    public IReadOnlyList<string>? RejectPredictionIds { get; init; }
}

/// <summary>Answer the next <paramref name="Count"/> ingestion requests with <paramref name="Status"/>.</summary>
/// <param name="Count">How many requests.</param>
/// <param name="Status">The status to answer (default 503).</param>
/// <param name="RetryAfter">The <c>Retry-After</c> header value, sent verbatim (seconds or an HTTP date).</param>
public sealed record EmulatorNextRequestsFault(int Count, int Status = 503, string? RetryAfter = null);

/// <summary>An outage window: ingestion requests between the two instants get <paramref name="Status"/>.</summary>
/// <param name="FromUtc">Start of the window.</param>
/// <param name="ToUtc">End of the window (exclusive).</param>
/// <param name="Status">The status to answer (default 503).</param>
/// <param name="RetryAfter">The <c>Retry-After</c> header value, sent verbatim.</param>
public sealed record EmulatorOutageFault(DateTimeOffset FromUtc, DateTimeOffset ToUtc, int Status = 503, string? RetryAfter = null);

/// <summary>How many faults of each kind were applied since the plan was set.</summary>
/// <param name="NextRequests">Requests answered by <see cref="EmulatorFaultPlan.NextRequests"/>.</param>
/// <param name="Latency">Requests delayed.</param>
/// <param name="DroppedConnections">Connections aborted.</param>
/// <param name="Outage">Requests answered by the outage window.</param>
/// <param name="RejectedPredictionIds">Events rejected by <see cref="EmulatorFaultPlan.RejectPredictionIds"/>.</param>
public sealed record EmulatorFaultCounts(
    long NextRequests,
    long Latency,
    long DroppedConnections,
    long Outage,
    long RejectedPredictionIds);

/// <summary>The current fault plan and what it has done so far.</summary>
/// <param name="Plan">The plan as set.</param>
/// <param name="RemainingNextRequests">How many of the next-requests faults are left.</param>
/// <param name="Applied">Faults applied so far.</param>
public sealed record EmulatorFaultState(
    EmulatorFaultPlan Plan,
    int RemainingNextRequests,
    EmulatorFaultCounts Applied);
