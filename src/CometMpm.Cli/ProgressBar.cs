using System.Diagnostics;

namespace CometMpm.Cli;

/// <summary>A one-line progress bar on standard error, redrawn at most ten times a second; silent when disabled.</summary>
internal sealed class ProgressBar(long total, bool enabled) : IDisposable
{
    private const int Width = 30;
    private long _done;
    private long _lastDraw;
    private bool _drawn;

    public void Add(long bytes)
    {
        _done += bytes;
        if (!enabled)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        if (_drawn && Stopwatch.GetElapsedTime(_lastDraw, now) < TimeSpan.FromMilliseconds(100) && _done < total)
        {
            return;
        }

        _lastDraw = now;
        _drawn = true;
        var fraction = total <= 0 ? 1 : Math.Min(1, (double)_done / total);
        var filled = (int)(fraction * Width);
        Console.Error.Write($"\r[{new string('#', filled)}{new string(' ', Width - filled)}] {fraction * 100,5:F1}%  {CliApp.Format(_done / 1048576.0)} of {CliApp.Format(total / 1048576.0)} MiB");
    }

    public void Clear()
    {
        if (_drawn)
        {
            Console.Error.Write("\r" + new string(' ', Width + 40) + "\r");
            _drawn = false;
        }
    }

    public void Dispose() => Clear();
}
