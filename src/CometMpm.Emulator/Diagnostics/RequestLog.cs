namespace CometMpm.Emulator.Diagnostics;

/// <summary>A ring buffer of the last requests; secrets in headers are masked before they are kept.</summary>
internal sealed class RequestLog
{
    private readonly Lock _lock = new();
    private readonly EmulatorRequestRecord[] _items;
    private int _next;
    private int _count;

    public RequestLog(int capacity) => _items = new EmulatorRequestRecord[Math.Max(1, capacity)];

    public void Add(EmulatorRequestRecord record)
    {
        lock (_lock)
        {
            _items[_next] = record;
            _next = (_next + 1) % _items.Length;
            _count = Math.Min(_count + 1, _items.Length);
        }
    }

    /// <summary>The last <paramref name="limit"/> requests, oldest first.</summary>
    public IReadOnlyList<EmulatorRequestRecord> Last(int limit)
    {
        lock (_lock)
        {
            var n = Math.Clamp(limit, 0, _count);
            var result = new EmulatorRequestRecord[n];
            for (var i = 0; i < n; i++)
            {
                var index = (_next - n + i + _items.Length) % _items.Length;
                result[i] = _items[index];
            }

            return result;
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            Array.Clear(_items);
            _next = 0;
            _count = 0;
        }
    }

    /// <summary>Masks a secret: at most its first 4 characters (a quarter of a short one), never the whole value.</summary>
    public static string Mask(string value)
    {
        var shown = value.Length >= 16 ? 4 : value.Length / 4;
        return string.Concat(value.AsSpan(0, shown), "…(masked)");
    }
}
