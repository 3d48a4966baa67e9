namespace CometMpm.AspNetCore.Capture;

/// <summary>The per-request (scoped) <see cref="ICometMpmPredictionContext"/>; the capture filter starts and completes it.</summary>
internal sealed class PredictionContext : ICometMpmPredictionContext
{
    private readonly Lock _lock = new();
    private List<KeyValuePair<string, object?>>? _features;
    private List<KeyValuePair<string, object?>>? _outputs;
    private List<KeyValuePair<string, object?>>? _labels;
    private volatile bool _captured;

    public string? PredictionId { get; private set; }

    public bool IsCaptured => _captured;

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
            _captured = captured;
        }
    }

    /// <summary>Ends the capture: what is added afterwards is ignored. Returns under the lock so the lists are stable.</summary>
    internal void Complete()
    {
        lock (_lock)
        {
            _captured = false;
        }
    }

    private void Add(ref List<KeyValuePair<string, object?>>? list, string name, object? value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!_captured)
        {
            return;
        }

        lock (_lock)
        {
            if (_captured)
            {
                (list ??= []).Add(new KeyValuePair<string, object?>(name, value));
            }
        }
    }
}
