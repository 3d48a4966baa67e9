namespace CometMpm.Diagnostics;

/// <summary>
/// The Python SDK's error store (<c>get_logging_errors</c> / <c>has_logging_error</c>), bounded so a
/// long outage cannot grow it without limit: past <see cref="Capacity"/> the oldest entries go.
/// </summary>
internal sealed class LoggingErrorStore(TimeProvider timeProvider)
{
    internal const int Capacity = 1000;
    private const int MaxIdsPerError = 100;

    private readonly Queue<CometMpmLoggingError> _errors = new();
    private readonly Lock _lock = new();

    public bool HasErrors
    {
        get
        {
            lock (_lock)
            {
                return _errors.Count > 0;
            }
        }
    }

    public void Add(string message, int affectedCount = 0, IReadOnlyList<string>? ids = null)
    {
        var error = new CometMpmLoggingError(message, timeProvider.GetUtcNow(), affectedCount, ids ?? []);
        lock (_lock)
        {
            if (_errors.Count == Capacity)
            {
                _errors.Dequeue();
            }

            _errors.Enqueue(error);
        }
    }

    public IReadOnlyList<CometMpmLoggingError> Get(bool clear)
    {
        lock (_lock)
        {
            var copy = _errors.ToArray();
            if (clear)
            {
                _errors.Clear();
            }

            return copy;
        }
    }
}
