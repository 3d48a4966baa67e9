using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using CometMpm.Events;

namespace CometMpm.Diagnostics;

/// <summary>
/// The library's one <see cref="Meter"/>, named <c>CometMpm</c> and created through <see cref="IMeterFactory"/>, with its
/// instruments. Each client records through its own <see cref="CometMpmMetrics"/>, which tags every measurement with the
/// client's name and model, so two models' counts never merge.
/// </summary>
internal sealed class CometMpmInstruments
{
    public const string MeterName = "CometMpm";

    /// <summary>
    /// Bucket boundaries of the seconds histograms, from a loopback answer (ms) to a batch retried for minutes; the
    /// OpenTelemetry defaults (0, 5, 10, 25 … 10000) are meant for milliseconds and would put every batch in the first bucket.
    /// </summary>
    internal static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

    private readonly ConcurrentDictionary<string, CometMpmMetrics> _clients = new(StringComparer.Ordinal);

    public CometMpmInstruments(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        Enqueued = meter.CreateCounter<long>("cometmpm.events.enqueued", "{event}", "Events accepted into the send queue.");
        Sent = meter.CreateCounter<long>("cometmpm.events.sent", "{event}", "Events the backend accepted.");
        Dropped = meter.CreateCounter<long>("cometmpm.events.dropped", "{event}", "Events that will never reach the backend, by reason (error.type).");
        Retried = meter.CreateCounter<long>("cometmpm.requests.retried", "{request}", "HTTP requests retried after a transient failure.");
        Requests = meter.CreateCounter<long>("cometmpm.requests", "{request}", "Batch requests sent to the backend (retries included), by final status (http.response.status_code, error.type).");
        BatchDuration = meter.CreateHistogram<double>(
            "cometmpm.batch.duration",
            "s",
            "Time to deliver one batch request, retries included.",
            tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        Spilled = meter.CreateCounter<long>("cometmpm.events.spilled", "{event}", "Events written to the outbox to be replayed later.");
        Quarantined = meter.CreateCounter<long>("cometmpm.outbox.quarantined", "{file}", "Outbox files that could not be read back, moved to quarantine/.");
        meter.CreateObservableGauge("cometmpm.queue.depth", () => Observe(static c => c.QueueDepth()), "{event}", "Events waiting in the send queue.");
        meter.CreateObservableGauge("cometmpm.outbox.files", () => Observe(static c => c.OutboxFileCount()), "{file}", "Batches waiting in the outbox.");
        meter.CreateObservableGauge("cometmpm.outbox.bytes", () => Observe(static c => c.OutboxByteCount()), "By", "Bytes waiting in the outbox.");
        meter.CreateObservableGauge("cometmpm.outbox.events", () => Observe(static c => c.OutboxEventCount()), "{event}", "Events waiting in the outbox.");
    }

    internal Counter<long> Enqueued { get; }

    internal Counter<long> Sent { get; }

    internal Counter<long> Dropped { get; }

    internal Counter<long> Retried { get; }

    internal Counter<long> Requests { get; }

    internal Histogram<double> BatchDuration { get; }

    internal Counter<long> Spilled { get; }

    internal Counter<long> Quarantined { get; }

    /// <summary>
    /// The metrics of one client, tagged with its name (<c>default</c> for the unnamed one) and, once known, its model.
    /// Asking again by name gives the same object; asking with the model adds the model's tags.
    /// </summary>
    public CometMpmMetrics ForClient(string name, ModelIdentity? model = null) =>
        _clients.AddOrUpdate(
            name,
            static (n, arg) => new CometMpmMetrics(arg.Instruments, n, arg.Model),
            static (n, existing, arg) => arg.Model is null || existing.Model == arg.Model ? existing : new CometMpmMetrics(arg.Instruments, n, arg.Model),
            (Instruments: this, Model: model));

    private IEnumerable<Measurement<long>> Observe(Func<CometMpmMetrics, long?> read)
    {
        foreach (var client in _clients.Values)
        {
            if (read(client) is { } value)
            {
                yield return new Measurement<long>(value, client.Tags);
            }
        }
    }
}
