using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace CometMpm.Tests.Infrastructure;

/// <summary>
/// Running sums of one meter's counters (by instrument, and by <c>error.type</c> (the reason) for the drops) for one host. Unlike a
/// <c>MetricCollector</c> it keeps no measurement, so a test that offers millions of events measures no test memory.
/// </summary>
public sealed class MetricTotals : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _totals = new(StringComparer.Ordinal);

    public MetricTotals(IMeterFactory meterFactory, string instrument)
    {
        Instrument = instrument;
        _listener.InstrumentPublished = (published, listener) =>
        {
            // Only the meter this host's factory created: parallel tests have their own.
            if (published.Meter.Scope == meterFactory && published.Name == instrument)
            {
                listener.EnableMeasurementEvents(published);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var reason = "";
            foreach (var tag in tags)
            {
                if (tag.Key == "error.type")
                {
                    reason = tag.Value as string ?? "";
                }
            }

            _totals.AddOrUpdate(reason, value, (_, total) => total + value);
        });
        _listener.Start();
    }

    public string Instrument { get; }

    public long Total() => _totals.Values.Sum();

    public IReadOnlyDictionary<string, long> ByReason() => new Dictionary<string, long>(_totals, StringComparer.Ordinal);

    public void Dispose() => _listener.Dispose();
}
