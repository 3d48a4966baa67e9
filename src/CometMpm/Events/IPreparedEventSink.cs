namespace CometMpm.Events;

/// <summary>
/// How the library's own producers (capture, row logging, the command-line tool) reach the client without going through
/// the dictionary-based public API: events whose maps are already normalized, backpressure for bulk logging, and the
/// backend ping.
/// </summary>
internal interface IPreparedEventSink
{
    /// <summary>Queues an event built from already normalized maps (<c>default</c>: no map).</summary>
    LogResult LogPrepared(string predictionId, FeatureMap inputFeatures, FeatureMap outputFeatures, FeatureMap labels, DateTimeOffset? timestamp = null);

    /// <summary>Waits until the queue has room for one more event, at most <paramref name="maxWait"/> without progress.</summary>
    ValueTask<bool> WaitForQueueSpaceAsync(TimeSpan maxWait, CancellationToken cancellationToken);

    /// <summary>One <c>GET isAlive/ping</c>: whether it succeeded, its status (0 when no answer) and the detail.</summary>
    Task<(bool IsSuccess, int StatusCode, string Detail)> PingBackendAsync(CancellationToken cancellationToken);
}
