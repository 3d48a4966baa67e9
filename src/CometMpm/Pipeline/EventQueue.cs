using System.Threading.Channels;
using CometMpm.Diagnostics;

namespace CometMpm.Pipeline;

/// <summary>
/// The bounded queue between the callers and the sender, with the bookkeeping <c>FlushAsync</c>
/// and <c>EndAsync</c> need: how many events were accepted, how many are settled (delivered or
/// dropped), and how many of those failed.
/// </summary>
internal sealed class EventQueue
{
    private readonly Channel<MpmEvent> _channel;
    private long _accepted;
    private long _settled;
    private long _failed;

    public EventQueue(int capacity, FullQueuePolicy policy, CometMpmMetrics metrics)
    {
        var options = new BoundedChannelOptions(capacity)
        {
            SingleReader = false, // a client disabled by its health check drains from the logging thread too
            SingleWriter = false,
            AllowSynchronousContinuations = false,

            // DropNewest refuses the incoming event (TryWrite returns false with Wait); DropOldest evicts the head.
            FullMode = policy == FullQueuePolicy.DropOldest ? BoundedChannelFullMode.DropOldest : BoundedChannelFullMode.Wait,
        };
        _channel = Channel.CreateBounded<MpmEvent>(options, _ =>
        {
            metrics.Dropped(DropReason.QueueFull);
            Settle(1, delivered: false);
            EvictedOldest?.Invoke();
        });
        Capacity = capacity;
    }

    /// <summary>Raised (on the logging thread) when DropOldest evicts an event.</summary>
    public event Action? EvictedOldest;

    public int Capacity { get; }

    public ChannelReader<MpmEvent> Reader => _channel.Reader;

    public int Count => _channel.Reader.Count;

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Settled => Interlocked.Read(ref _settled);

    public long Failed => Interlocked.Read(ref _failed);

    public bool IsCompleted { get; private set; }

    /// <summary>Pulsed whenever events are settled.</summary>
    public AsyncSignal Progress { get; } = new();

    public bool TryWrite(MpmEvent mpmEvent)
    {
        if (!_channel.Writer.TryWrite(mpmEvent))
        {
            return false;
        }

        Interlocked.Increment(ref _accepted);
        return true;
    }

    public void Complete()
    {
        IsCompleted = true;
        _channel.Writer.TryComplete();
    }

    public void Settle(int count, bool delivered)
    {
        if (!delivered)
        {
            Interlocked.Add(ref _failed, count);
        }

        Interlocked.Add(ref _settled, count);
        Progress.Pulse();
    }
}
