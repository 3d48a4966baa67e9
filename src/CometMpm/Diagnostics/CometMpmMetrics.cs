using System.Diagnostics.Metrics;

namespace CometMpm.Diagnostics;

/// <summary>
/// The library's one <see cref="Meter"/>, named <c>CometMpm</c>, created through <see cref="IMeterFactory"/>.
/// Adding to a counter with no listener costs a few nanoseconds, so the request path may count.
/// </summary>
internal sealed class CometMpmMetrics
{
    public const string MeterName = "CometMpm";

    private readonly Counter<long> _enqueued;
    private readonly Counter<long> _sent;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _retried;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _spilled;
    private readonly Counter<long> _quarantined;
    private readonly Histogram<double> _batchDuration;
    private readonly List<(Func<int> Files, Func<long> Bytes, Func<long> Events)> _outboxSources = [];
    private readonly List<Func<long>> _queueDepthSources = [];
    private readonly Lock _lock = new();

    public CometMpmMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _enqueued = meter.CreateCounter<long>("cometmpm.events.enqueued", "{event}", "Events accepted into the send queue.");
        _sent = meter.CreateCounter<long>("cometmpm.events.sent", "{event}", "Events the backend accepted.");
        _dropped = meter.CreateCounter<long>("cometmpm.events.dropped", "{event}", "Events that did not reach the backend, by reason.");
        _retried = meter.CreateCounter<long>("cometmpm.requests.retried", "{request}", "HTTP requests retried after a transient failure.");
        _requests = meter.CreateCounter<long>("cometmpm.requests", "{request}", "HTTP requests sent to the backend, by outcome.");
        _batchDuration = meter.CreateHistogram<double>("cometmpm.batch.duration", "s", "Time to deliver one batch request, retries included.");
        _spilled = meter.CreateCounter<long>("cometmpm.events.spilled", "{event}", "Events written to the outbox to be replayed later.");
        _quarantined = meter.CreateCounter<long>("cometmpm.outbox.quarantined", "{file}", "Outbox files that could not be read back, moved to quarantine/.");
        meter.CreateObservableGauge("cometmpm.queue.depth", ObserveQueueDepth, "{event}", "Events waiting in the send queue.");
        meter.CreateObservableGauge("cometmpm.outbox.files", () => Sum(s => s.Files()), "{file}", "Batches waiting in the outbox.");
        meter.CreateObservableGauge("cometmpm.outbox.bytes", () => Sum(s => s.Bytes()), "By", "Bytes waiting in the outbox.");
        meter.CreateObservableGauge("cometmpm.outbox.events", () => Sum(s => s.Events()), "{event}", "Events waiting in the outbox.");
    }

    public void Enqueued() => _enqueued.Add(1);

    public void Sent(int count) => _sent.Add(count);

    public void Dropped(string reason, long count = 1) => _dropped.Add(count, new KeyValuePair<string, object?>("reason", reason));

    public void Retried() => _retried.Add(1);

    public void Request(string outcome) => _requests.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void Spilled(int count) => _spilled.Add(count);

    public void Quarantined() => _quarantined.Add(1);

    public void AddOutboxSource(Func<int> files, Func<long> bytes, Func<long> events)
    {
        lock (_lock)
        {
            _outboxSources.Add((files, bytes, events));
        }
    }

    private long Sum(Func<(Func<int> Files, Func<long> Bytes, Func<long> Events), long> read)
    {
        lock (_lock)
        {
            long total = 0;
            foreach (var source in _outboxSources)
            {
                total += read(source);
            }

            return total;
        }
    }

    public void BatchDuration(TimeSpan elapsed) => _batchDuration.Record(elapsed.TotalSeconds);

    public void AddQueueDepthSource(Func<long> source)
    {
        lock (_lock)
        {
            _queueDepthSources.Add(source);
        }
    }

    private long ObserveQueueDepth()
    {
        lock (_lock)
        {
            long depth = 0;
            foreach (var source in _queueDepthSources)
            {
                depth += source();
            }

            return depth;
        }
    }
}
