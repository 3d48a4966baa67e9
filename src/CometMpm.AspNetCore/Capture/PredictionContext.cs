namespace CometMpm.AspNetCore.Capture;

/// <summary>
/// The per-request (scoped) <see cref="ICometMpmPredictionContext"/>; the capture filter starts and completes it.
/// A context resolved before the capture began (a handler parameter, a controller's constructor) is started with the
/// prediction id. One resolved later in the request, before <see cref="PredictionContextUsage"/> knew the application
/// uses it, was never started: it keeps what is added and the capture takes it when the request completes.
/// </summary>
internal sealed class PredictionContext : ICometMpmPredictionContext
{
    private const int NotStarted = 0;
    private const int Capturing = 1;
    private const int Closed = 2;

    /// <summary>What a context never started keeps at most: one outside any request (a long-lived scope) must not grow.</summary>
    private const int MaxNotStarted = 256;

    private readonly Lock _lock = new();
    private List<KeyValuePair<string, object?>>? _features;
    private List<KeyValuePair<string, object?>>? _outputs;
    private List<KeyValuePair<string, object?>>? _labels;
    private volatile int _state;
    private int _notStartedCount;

    public string? PredictionId { get; private set; }

    public bool IsCaptured => _state == Capturing;

    internal List<KeyValuePair<string, object?>>? Features => _features;

    internal List<KeyValuePair<string, object?>>? Outputs => _outputs;

    internal List<KeyValuePair<string, object?>>? Labels => _labels;

    public void AddFeature(string name, object? value) => Add(ref _features, name, value);

    public void AddOutput(string name, object? value) => Add(ref _outputs, name, value);

    public void AddLabel(string name, object? value) => Add(ref _labels, name, value);

    internal void Start(string predictionId, bool captured)
    {
        lock (_lock)
        {
            PredictionId = predictionId;
            _features = _outputs = _labels = null;
            _notStartedCount = 0;
            _state = captured ? Capturing : Closed;
        }
    }

    /// <summary>Ends the capture: what is added afterwards is ignored. Returns under the lock so the lists are stable.</summary>
    internal void Complete()
    {
        lock (_lock)
        {
            _state = Closed;
        }
    }

    private void Add(ref List<KeyValuePair<string, object?>>? list, string name, object? value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (_state == Closed)
        {
            return;
        }

        lock (_lock)
        {
            if (_state == NotStarted && ++_notStartedCount > MaxNotStarted)
            {
                return;
            }

            if (_state != Closed)
            {
                (list ??= []).Add(new KeyValuePair<string, object?>(name, value));
            }
        }
    }
}

/// <summary>
/// Whether the application has ever resolved the prediction context. Until it has, capture does not touch
/// <c>HttpContext.RequestServices</c>, whose first read creates the request's dependency-injection scope: an endpoint
/// that never uses the context pays for no scope.
/// </summary>
internal sealed class PredictionContextUsage
{
    private volatile bool _isUsed;

    public bool IsUsed => _isUsed;

    public PredictionContext Create()
    {
        _isUsed = true;
        return new PredictionContext();
    }
}
