using System.Threading.Channels;
using CometMpm.Diagnostics;
using CometMpm.Events;
using CometMpm.Threading;

namespace CometMpm.Queue;

/// <summary>
/// The bounded queue between the callers and the sender. It is bounded by event count and by
/// approximate bytes and applies the full-queue policy. Each event it takes is recorded as accepted in the
/// <see cref="SettlementLedger"/>; one it evicts (<see cref="FullQueuePolicy.DropOldest"/>) is settled there as dropped.
/// </summary>
internal sealed class EventQueue
{
    private readonly Channel<MpmEvent> _channel;
    private readonly SettlementLedger _ledger;
    private readonly FullQueuePolicy _policy;
    private readonly long _maxBytes;
    private readonly TimeSpan _waitTimeout;
    private readonly object _spaceLock = new(); // a Monitor, for Wait and PulseAll
    private readonly AsyncSignal _filled = new();
    private long _bytes;
    private int _count; // the channel's count, kept without its lock so a write can tell the sender a batch is full
    private int _wakeAt = int.MaxValue;
    private int _waiters;

    public EventQueue(int capacity, long maxBytes, FullQueuePolicy policy, TimeSpan waitTimeout, SettlementLedger ledger)
    {
        // Several readers: the sender, and the logging thread that evicts under DropOldest or drains a disabled client.
        _channel = Channel.CreateBounded<MpmEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = false,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        Capacity = capacity;
        _maxBytes = maxBytes;
        _policy = policy;
        _waitTimeout = waitTimeout;
        _ledger = ledger;
    }

    /// <summary>Raised (on the logging thread) when DropOldest evicts events.</summary>
    public event Action? EvictedOldest;

    public int Capacity { get; }

    public int Count => _channel.Reader.Count;

    public long Bytes => Interlocked.Read(ref _bytes);

    public bool IsCompleted { get; private set; }

    /// <summary>Queues the event, applying the full-queue policy; false when it was refused.</summary>
    public bool TryWrite(MpmEvent mpmEvent)
    {
        if (TryWriteOnce(mpmEvent))
        {
            return true;
        }

        return _policy switch
        {
            FullQueuePolicy.DropOldest => EvictAndWrite(mpmEvent),
            FullQueuePolicy.Wait => WaitAndWrite(mpmEvent),
            _ => false,
        };
    }

    public bool TryRead(out MpmEvent mpmEvent)
    {
        if (!_channel.Reader.TryRead(out mpmEvent!))
        {
            return false;
        }

        Interlocked.Add(ref _bytes, -mpmEvent.ApproximateBytes);
        Interlocked.Decrement(ref _count);
        if (Volatile.Read(ref _waiters) > 0)
        {
            lock (_spaceLock)
            {
                Monitor.PulseAll(_spaceLock);
            }
        }

        return true;
    }

    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) => _channel.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>
    /// Completes when at least <paramref name="count"/> events are queued, or the queue is completed. The sender waits on
    /// this to fill a batch, so it wakes once per batch rather than once per event.
    /// </summary>
    public Task WaitForCountAsync(int count)
    {
        var filled = _filled.WaitTask;
        Interlocked.Exchange(ref _wakeAt, count); // a full fence, paired with the Interlocked.Increment in TryWriteOnce
        if (Volatile.Read(ref _count) >= count || IsCompleted)
        {
            Interlocked.Exchange(ref _wakeAt, int.MaxValue);
            return Task.CompletedTask;
        }

        return filled;
    }

    public void Complete()
    {
        IsCompleted = true;
        _channel.Writer.TryComplete();
        _filled.Pulse();
        lock (_spaceLock)
        {
            Monitor.PulseAll(_spaceLock);
        }
    }

    private bool TryWriteOnce(MpmEvent mpmEvent)
    {
        var size = mpmEvent.ApproximateBytes;
        var after = Interlocked.Add(ref _bytes, size);
        _ledger.BeginAccept(); // before the write: the worker may settle the event before this method returns

        // A single event larger than the byte bound is still taken when the queue is empty.
        if ((after > _maxBytes && after != size) || !_channel.Writer.TryWrite(mpmEvent))
        {
            Interlocked.Add(ref _bytes, -size);
            _ledger.CancelAccept();
            return false;
        }

        _ledger.CompleteAccept();

        if (Interlocked.Increment(ref _count) >= Volatile.Read(ref _wakeAt) && Interlocked.Exchange(ref _wakeAt, int.MaxValue) != int.MaxValue)
        {
            _filled.Pulse();
        }

        return true;
    }

    private bool EvictAndWrite(MpmEvent mpmEvent)
    {
        var evicted = 0;
        var written = false;
        while (!IsCompleted && !(written = TryWriteOnce(mpmEvent)))
        {
            if (!TryRead(out _))
            {
                continue; // the sender emptied the queue meanwhile: try again
            }

            evicted++;
        }

        if (evicted > 0)
        {
            _ledger.Dropped(evicted, DropReason.QueueFull);
            EvictedOldest?.Invoke();
        }

        return written;
    }

    private bool WaitAndWrite(MpmEvent mpmEvent)
    {
        var deadline = Environment.TickCount64 + (long)_waitTimeout.TotalMilliseconds;
        lock (_spaceLock)
        {
            _waiters++;
            try
            {
                while (!IsCompleted)
                {
                    if (TryWriteOnce(mpmEvent))
                    {
                        return true;
                    }

                    var remaining = deadline - Environment.TickCount64;
                    if (remaining <= 0)
                    {
                        return false;
                    }

                    Monitor.Wait(_spaceLock, TimeSpan.FromMilliseconds(Math.Min(remaining, 100)));
                }

                return false;
            }
            finally
            {
                _waiters--;
            }
        }
    }
}
