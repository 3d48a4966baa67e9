using System.Collections.Concurrent;
using System.Diagnostics;

namespace CometMpm.Tests.Infrastructure;

/// <summary>
/// An in-memory span exporter: an <see cref="ActivityListener"/> on the named sources that keeps every stopped span.
/// Listeners are process-wide, so tests pick their own spans out by the server's port.
/// </summary>
public sealed class SpanRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _stopped = new();

    /// <param name="parentBased">Sample as OpenTelemetry's default sampler does: a root is recorded, a child only when its parent is.</param>
    /// <param name="sources">The sources listened to.</param>
    public SpanRecorder(bool parentBased, params string[] sources)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => sources.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> options) =>
                !parentBased || options.Parent == default || options.Parent.TraceFlags.HasFlag(ActivityTraceFlags.Recorded)
                    ? ActivitySamplingResult.AllDataAndRecorded
                    : ActivitySamplingResult.None,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> Stopped => [.. _stopped];

    /// <summary>The spans (ours and the HTTP client's) that went to <paramref name="server"/>, by its port.</summary>
    public IReadOnlyList<Activity> To(Uri server) =>
        [.. _stopped.Where(a => a.GetTagItem("server.port") is int port && port == server.Port)];

    public void Dispose() => _listener.Dispose();
}
