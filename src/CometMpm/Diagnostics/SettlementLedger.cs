using CometMpm.Threading;

namespace CometMpm.Diagnostics;

/// <summary>
/// The one record of what became of every accepted event: delivered, written to the outbox (and later delivered or
/// dropped from there), or dropped under a reason. Every stage settles here and nowhere else; <c>FlushAsync</c>,
/// <c>EndAsync</c>, health and the metrics read it. Events refused at the call were never accepted and are not here.
/// </summary>
internal sealed class SettlementLedger(CometMpmMetrics metrics, TimeProvider timeProvider)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _dropped = new(StringComparer.Ordinal);
    private long _accepted;
    private long _delivered;
    private long _spilled;
    private long _droppedLive;
    private long _deliveredFromOutbox;
    private long _droppedFromOutbox;
    private long _lastDropTimestamp;

    /// <summary>Pulsed whenever accepted events are settled.</summary>
    public AsyncSignal Progress { get; } = new();

    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Accepted events that are settled (delivered, spilled or dropped); the rest are queued or in hand.</summary>
    public long Settled => Interlocked.Read(ref _delivered) + Interlocked.Read(ref _spilled) + Interlocked.Read(ref _droppedLive);

    /// <summary>Accepted events that were not delivered straight away (spilled to the outbox or dropped).</summary>
    public long NotDelivered => Interlocked.Read(ref _spilled) + Interlocked.Read(ref _droppedLive);

    /// <summary>When an event was last dropped; 0 when never.</summary>
    public long LastDropTimestamp => Interlocked.Read(ref _lastDropTimestamp);

    /// <summary>An event is being accepted: counted before it is queued, so settled never runs ahead of accepted.</summary>
    public void BeginAccept() => Interlocked.Increment(ref _accepted);

    /// <summary>The queue refused the event after all: it was never accepted.</summary>
    public void CancelAccept() => Interlocked.Decrement(ref _accepted);

    /// <summary>The event is queued: the enqueued counter moves only now (a counter never goes back).</summary>
    public void CompleteAccept() => metrics.Enqueued();

    public void Delivered(int count)
    {
        if (count <= 0)
        {
            return;
        }

        Interlocked.Add(ref _delivered, count);
        metrics.Sent(count);
        Progress.Pulse();
    }

    public void Spilled(int count)
    {
        if (count <= 0)
        {
            return;
        }

        Interlocked.Add(ref _spilled, count);
        metrics.Spilled(count);
        Progress.Pulse();
    }

    public void Dropped(int count, string reason)
    {
        if (count <= 0)
        {
            return;
        }

        Interlocked.Add(ref _droppedLive, count);
        CountDrop(count, reason);
        Progress.Pulse();
    }

    /// <summary>An event refused at the call (never accepted) that still means trouble, such as a full queue.</summary>
    public void Refused(string reason)
    {
        Interlocked.Exchange(ref _lastDropTimestamp, timeProvider.GetTimestamp());
        metrics.Dropped(reason);
    }

    /// <summary>Events written to the outbox earlier (by this process or another) that have now been delivered.</summary>
    public void DeliveredFromOutbox(int count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref _deliveredFromOutbox, count);
            metrics.Sent(count);
        }
    }

    /// <summary>Events written to the outbox earlier that are now given up, under a reason.</summary>
    public void DroppedFromOutbox(int count, string reason)
    {
        if (count > 0)
        {
            Interlocked.Add(ref _droppedFromOutbox, count);
            CountDrop(count, reason);
        }
    }

    /// <summary>The totals at this moment; <paramref name="inOutbox"/> and <paramref name="pending"/> come from the outbox and the queue.</summary>
    public LedgerSnapshot Snapshot(long inOutbox, long pending)
    {
        lock (_lock)
        {
            return new LedgerSnapshot(
                Accepted,
                Interlocked.Read(ref _delivered) + Interlocked.Read(ref _deliveredFromOutbox),
                new Dictionary<string, long>(_dropped, StringComparer.Ordinal),
                inOutbox,
                pending);
        }
    }

    private void CountDrop(int count, string reason)
    {
        lock (_lock)
        {
            _dropped[reason] = _dropped.GetValueOrDefault(reason) + count;
        }

        Interlocked.Exchange(ref _lastDropTimestamp, timeProvider.GetTimestamp());
        metrics.Dropped(reason, count);
    }
}

/// <summary>The ledger's totals: for a process that started with an empty outbox, <see cref="Unaccounted"/> is always 0.</summary>
/// <param name="Accepted">Events accepted by logging calls.</param>
/// <param name="Delivered">Events the backend accepted, straight away or from the outbox.</param>
/// <param name="Dropped">Events given up, by reason.</param>
/// <param name="InOutbox">Events in outbox files this process can see.</param>
/// <param name="Pending">Events still queued or in the hands of the sender.</param>
internal sealed record LedgerSnapshot(long Accepted, long Delivered, IReadOnlyDictionary<string, long> Dropped, long InOutbox, long Pending)
{
    public long DroppedTotal => Dropped.Values.Sum();

    public long Unaccounted => Accepted - Delivered - DroppedTotal - InOutbox - Pending;

    public override string ToString() =>
        $"accepted {Accepted} = delivered {Delivered} + dropped {DroppedTotal} ({string.Join(", ", Dropped.Select(d => $"{d.Key} {d.Value}"))}) + in outbox {InOutbox} + pending {Pending}; unaccounted {Unaccounted}";
}
