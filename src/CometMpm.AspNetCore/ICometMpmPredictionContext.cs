namespace CometMpm.AspNetCore;

/// <summary>
/// The prediction of the current request, for a handler of a captured endpoint to read its id and to add what the
/// request and response types do not carry (a score computed inside the handler, a feature looked up from a store).
/// Inject it into a handler, controller or service (it is scoped to the request). Outside a captured endpoint,
/// or when the prediction is not sampled, <see cref="IsCaptured"/> is false and nothing added is sent.
/// </summary>
/// <remarks>
/// Capture resolves the context only once the application has resolved it somewhere: until then a captured request
/// creates no dependency-injection scope for it. So on the one request where the context is first resolved inside a
/// handler, after the capture began (not as a handler parameter or constructor argument, which are resolved before),
/// <see cref="PredictionId"/> is null and <see cref="IsCaptured"/> false; what is added to it is still sent. Until a
/// capture starts or completes it, a context keeps at most 256 additions (so one used outside any request stays small).
/// </remarks>
public interface ICometMpmPredictionContext
{
    /// <summary>The prediction id of the current request (also returned in the prediction id response header);
    /// null outside a captured endpoint.</summary>
    string? PredictionId { get; }

    /// <summary>Whether the current request's prediction will be sent (a captured endpoint, and sampled in).</summary>
    bool IsCaptured { get; }

    /// <summary>Adds (or replaces) an input feature.</summary>
    /// <param name="name">The feature's name.</param>
    /// <param name="value">A scalar: string, bool, integer, floating-point number, decimal, enum, Guid, or null.</param>
    void AddFeature(string name, object? value);

    /// <summary>Adds (or replaces) an output feature.</summary>
    /// <param name="name">The feature's name.</param>
    /// <param name="value">A scalar.</param>
    void AddOutput(string name, object? value);

    /// <summary>Adds (or replaces) a label sent with the prediction.</summary>
    /// <param name="name">The label's name.</param>
    /// <param name="value">A scalar.</param>
    void AddLabel(string name, object? value);
}
