using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace CometMpm.LoadTest;

/// <summary>
/// A fixed-rate (open-loop) HTTP/1.1 load generator, in the manner of wrk2: request <c>i</c> is due at
/// <c>start + i / rate</c> whatever happened to the earlier ones, and its latency is measured from that due time, not
/// from when it was sent. So a server that falls behind is charged for the whole wait of every request queued behind a
/// slow one (no coordinated omission). Requests are spread round-robin over the connections; each connection is a
/// thread with a blocking socket that sleeps until its next due time with <c>clock_nanosleep</c> (timer slack
/// lowered to 1 µs), sends the pre-encoded request and reads the response (Content-Length framing, keep-alive).
/// </summary>
internal static partial class OpenLoopClient
{
    public static Result Run(Uri url, byte[] body, double rate, int connections, TimeSpan duration)
    {
        var request = Encoding.ASCII.GetBytes(
            $"POST {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n")
            .Concat(body).ToArray();
        var total = (long)(rate * duration.TotalSeconds);
        var interval = Stopwatch.Frequency / rate;
        var workers = new Worker[connections];
        for (var c = 0; c < connections; c++)
        {
            workers[c] = new Worker(url, request, interval, c, connections, total);
            workers[c].Connect(); // every connection is open before the first request is due
        }

        var start = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 100); // the threads are running by then
        var threads = new Thread[connections];
        for (var c = 0; c < connections; c++)
        {
            var worker = workers[c];
            threads[c] = new Thread(() => worker.Run(start)) { IsBackground = true, Name = $"load-{c}" };
        }

        foreach (var thread in threads)
        {
            thread.Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        var elapsed = Stopwatch.GetElapsedTime(start, workers.Max(w => w.LastCompleted));
        var latencies = workers.SelectMany(w => w.Latencies).Order().ToArray();
        TimeSpan At(double q) => latencies.Length == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(0, latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))]);
        return new Result(
            latencies.Length / Math.Max(elapsed.TotalSeconds, duration.TotalSeconds),
            At(0.50),
            At(0.90),
            At(0.99),
            latencies.Length,
            workers.Sum(w => w.Errors));
    }

    /// <summary>The child command <c>load</c>: runs the generator and prints its result as one line.</summary>
    public static int Command(Arguments options)
    {
        var url = new Uri(options.String("url", "http://127.0.0.1:5000/predict"));
        var body = Encoding.UTF8.GetBytes(options.String("body", "{}"));
        var rate = options.Int("rate", 1000);
        var connections = options.Int("connections", 16);
        var warmup = options.Int("warmup", 0);
        if (warmup > 0)
        {
            Run(url, body, rate, connections, TimeSpan.FromSeconds(warmup));
        }

        Console.WriteLine("MEASURING"); // the parent starts counting the API's CPU here

        var result = Run(url, body, rate, connections, TimeSpan.FromSeconds(options.Int("duration", 5)));
        Console.WriteLine(result.Format());
        return 0;
    }

    internal sealed record Result(double RequestsPerSecond, TimeSpan P50, TimeSpan P90, TimeSpan P99, long Requests, long Errors)
    {
        public string Format() => string.Create(
            CultureInfo.InvariantCulture,
            $"RESULT {RequestsPerSecond:F1} {P50.Ticks} {P90.Ticks} {P99.Ticks} {Requests} {Errors}");

        public static Result Parse(string line)
        {
            var f = line.Split(' ');
            TimeSpan T(int i) => TimeSpan.FromTicks(long.Parse(f[i], CultureInfo.InvariantCulture));
            return new Result(double.Parse(f[1], CultureInfo.InvariantCulture), T(2), T(3), T(4), long.Parse(f[5], CultureInfo.InvariantCulture), long.Parse(f[6], CultureInfo.InvariantCulture));
        }
    }

    private sealed class Worker(Uri url, byte[] request, double interval, int first, int stride, long total)
    {
        private static readonly TimeSpan SocketTimeout = TimeSpan.FromSeconds(10);
        private Socket? _socket;
        private byte[] _buffer = new byte[16 * 1024];
        private int _filled;

        public List<long> Latencies { get; } = new((int)Math.Min(total / stride + 1, 10_000_000));

        public long Errors { get; private set; }

        public long LastCompleted { get; private set; }

        public void Connect()
        {
            _socket?.Dispose();
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            {
                NoDelay = true,
                ReceiveTimeout = (int)SocketTimeout.TotalMilliseconds,
                SendTimeout = (int)SocketTimeout.TotalMilliseconds,
            };
            _socket.Connect(url.Host, url.Port);
        }

        /// <summary>
        /// Sends this connection's share of the requests, each at its due time. A request that fails (error status,
        /// broken or stalled connection, unreadable response) counts as an error and the connection is opened again; if it
        /// cannot be, every request left is counted as an error, so the offered load is never quietly lower than asked.
        /// </summary>
        public void Run(long start)
        {
            LastCompleted = start;
            _ = prctl(PrSetTimerSlack, 1000, 0, 0, 0); // wake within ~1 µs of the due time instead of the default 50 µs
            for (var i = (long)first; i < total; i += stride)
            {
                var due = start + (long)(i * interval);
                SleepUntil(due);
                try
                {
                    _socket!.Send(request);
                    var ok = ReadResponse(_socket);
                    var done = Stopwatch.GetTimestamp();
                    Latencies.Add(done - due);
                    LastCompleted = done;
                    if (!ok)
                    {
                        Errors++;
                    }
                }
                catch (Exception)
                {
                    Errors++;
                    try
                    {
                        Connect();
                    }
                    catch (SocketException)
                    {
                        Errors += ((total - 1 - i) / stride); // the requests this connection can no longer send
                        return;
                    }
                }
            }

            _socket?.Dispose();
        }

        /// <summary>Reads one response (Content-Length or chunked body); true when its status is 2xx.</summary>
        private bool ReadResponse(Socket socket)
        {
            _filled = 0;
            var headerEnd = -1;
            while (headerEnd < 0)
            {
                Fill(socket);
                headerEnd = _buffer.AsSpan(0, _filled).IndexOf("\r\n\r\n"u8);
            }

            var headers = Encoding.ASCII.GetString(_buffer, 0, headerEnd);
            var status = int.Parse(headers.AsSpan(9, 3), CultureInfo.InvariantCulture);
            var length = 0;
            var chunked = false;
            foreach (var line in headers.Split("\r\n"))
            {
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                {
                    length = int.Parse(line.AsSpan(15).Trim(), CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                {
                    chunked = true;
                }
            }

            var position = headerEnd + 4;
            if (!chunked)
            {
                while (_filled < position + length)
                {
                    Fill(socket);
                }

                return status is >= 200 and < 300;
            }

            while (true)
            {
                // A chunk: its size in hex, CRLF, the data, CRLF. The last one has size 0 (no trailers from Kestrel).
                int lineEnd;
                while ((lineEnd = _buffer.AsSpan(position, _filled - position).IndexOf("\r\n"u8)) < 0)
                {
                    Fill(socket);
                }

                var size = int.Parse(_buffer.AsSpan(position, lineEnd), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                position += lineEnd + 2 + size + 2;
                while (_filled < position)
                {
                    Fill(socket);
                }

                if (size == 0)
                {
                    return status is >= 200 and < 300;
                }
            }
        }

        private void Fill(Socket socket)
        {
            if (_filled == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var read = socket.Receive(_buffer, _filled, _buffer.Length - _filled, SocketFlags.None);
            if (read == 0)
            {
                throw new SocketException((int)SocketError.ConnectionReset);
            }

            _filled += read;
        }

        private static void SleepUntil(long due)
        {
            var now = Stopwatch.GetTimestamp();
            if (due <= now)
            {
                return; // behind: send at once (the latency still counts from the due time)
            }

            // Stopwatch timestamps are CLOCK_MONOTONIC nanoseconds on Linux, so the due time is an absolute sleep target.
            var ns = due * (1_000_000_000.0 / Stopwatch.Frequency);
            var target = new Timespec { Seconds = (long)(ns / 1_000_000_000), Nanoseconds = (long)(ns % 1_000_000_000) };
            while (clock_nanosleep(ClockMonotonic, TimerAbsoluteTime, ref target, IntPtr.Zero) == Eintr)
            {
            }
        }
    }

    private const int ClockMonotonic = 1;
    private const int TimerAbsoluteTime = 1;
    private const int Eintr = 4;
    private const int PrSetTimerSlack = 29;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", SetLastError = false)]
    private static partial int clock_nanosleep(int clock, int flags, ref Timespec request, IntPtr remain);

    [LibraryImport("libc", SetLastError = false)]
    private static partial int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);
}
