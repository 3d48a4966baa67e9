using System.Buffers;
using System.Globalization;
using CometMpm.Diagnostics;
using CometMpm.Pipeline;
using Microsoft.Extensions.Logging;

namespace CometMpm.Persistence;

/// <summary>
/// The durable outbox: undeliverable batches as files, replayed oldest first (at-least-once; the backend
/// ignores repeated prediction ids).
/// <code>
/// {dir}/tmp/            files being written (then renamed into ready/)
/// {dir}/ready/          complete batches: {utcTicks}-{count}-{guid}.{events|labels}.json, oldest first by name
/// {dir}/processing/{instance}/       batches leased (moved here) by a live process
/// {dir}/processing/{instance}.lock   held open exclusively by that process; a dead process's lock can be taken
/// </code>
/// Two processes sharing the directory never send the same file twice at once (a lease is an atomic rename),
/// and a restarted process recovers what a dead one had leased.
/// </summary>
internal sealed class Outbox : IDisposable
{
    private const string ReadyFolder = "ready";
    private const string TempFolder = "tmp";
    private const string ProcessingFolder = "processing";
    private static readonly TimeSpan RecoveryGrace = TimeSpan.FromSeconds(10);

    private readonly string _root;
    private readonly string _ready;
    private readonly string _temp;
    private readonly string _processing;
    private readonly string _instance;
    private readonly string _leased;
    private readonly CometMpmOutboxOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly CometMpmMetrics _metrics;
    private readonly ILogger _logger;
    private readonly FileStream _instanceLock;
    private readonly Lock _lock = new();
    private long _bytes;
    private int _files;

    public Outbox(CometMpmOutboxOptions options, TimeProvider timeProvider, CometMpmMetrics metrics, ILogger logger)
    {
        _options = options;
        _timeProvider = timeProvider;
        _metrics = metrics;
        _logger = logger;
        _root = Path.GetFullPath(options.Directory!);
        _ready = Path.Combine(_root, ReadyFolder);
        _temp = Path.Combine(_root, TempFolder);
        _processing = Path.Combine(_root, ProcessingFolder);
        foreach (var directory in new[] { _root, _ready, _temp, _processing })
        {
            CreateOwnerOnly(directory);
        }

        _instance = $"{Environment.ProcessId}-{Guid.NewGuid():N}"[..20];
        _leased = Path.Combine(_processing, _instance);
        CreateOwnerOnly(_leased);

        // Held for the life of the process; the OS releases it when the process dies, however it dies.
        _instanceLock = new FileStream(Path.Combine(_processing, _instance + ".lock"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        metrics.AddOutboxSource(() => Volatile.Read(ref _files), () => Interlocked.Read(ref _bytes));
        RemoveStaleTemporaryFiles();
        RecoverAbandoned();
        Rescan();
        EnforceCaps();
    }

    public string Directory => _root;

    /// <summary>Pulsed when a batch is written, so an idle replay loop looks again.</summary>
    public AsyncSignal Written { get; } = new();

    public int Files => Volatile.Read(ref _files);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Writes a batch: to a temporary file first, then renamed into ready/, so a crash never leaves half a batch.</summary>
    public void Write(MpmEventKind kind, int count, ReadOnlyMemory<byte> body)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"{_timeProvider.GetUtcNow().UtcTicks:D19}-{count:D7}-{Guid.NewGuid():N}.{KindName(kind)}.json");
        var temp = Path.Combine(_temp, name);
        using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            stream.Write(body.Span);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, Path.Combine(_ready, name));
        Interlocked.Add(ref _bytes, body.Length);
        Interlocked.Increment(ref _files);
        _metrics.Spilled(count);
        EnforceCaps();
        Written.Pulse();
    }

    /// <summary>Leases the oldest ready batch by moving it into this process's folder; null when there is none.</summary>
    public LeasedBatch? LeaseOldest()
    {
        // Expired batches go first (counted), so a replay never sends one and the age cap holds however the loops interleave.
        EnforceCaps();
        foreach (var path in ReadyFilesOldestFirst())
        {
            var leased = Path.Combine(_leased, Path.GetFileName(path));
            try
            {
                File.Move(path, leased);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException)
            {
                continue; // another process leased it first
            }

            if (!TryParseName(leased, out var kind, out var count, out _))
            {
                File.Delete(leased);
                continue;
            }

            var bytes = File.ReadAllBytes(leased);
            try
            {
                return new LeasedBatch(leased, count, bytes.Length, JsonPayload.Parse(kind, new ReadOnlySequence<byte>(bytes)));
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // A file we did not write (or damaged on disk): set aside, never sent, never deleted silently.
                File.Move(leased, leased + ".corrupt");
                Log.OutboxCorruptFile(_logger, leased, ex.Message);
            }
        }

        return null;
    }

    /// <summary>The batch was delivered (or settled otherwise): forget it.</summary>
    public void Complete(LeasedBatch batch)
    {
        File.Delete(batch.Path);
        Interlocked.Add(ref _bytes, -batch.Bytes);
        Interlocked.Decrement(ref _files);
    }

    /// <summary>The batch could not be delivered now: put it back where it was in the order.</summary>
    public void Release(LeasedBatch batch)
    {
        File.Move(batch.Path, Path.Combine(_ready, Path.GetFileName(batch.Path)));
    }

    /// <summary>Moves what dead processes had leased back to ready/, and recounts (other processes write here too).</summary>
    public void Maintain()
    {
        RemoveStaleTemporaryFiles();
        RecoverAbandoned();
        Rescan();
        EnforceCaps();
    }

    public void Dispose()
    {
        // Our leased files go back for the next process; then our lock and folder go.
        foreach (var path in SafeFiles(_leased))
        {
            try
            {
                File.Move(path, Path.Combine(_ready, Path.GetFileName(path)));
            }
            catch (IOException)
            {
            }
        }

        _instanceLock.Dispose();
        TryDelete(() => System.IO.Directory.Delete(_leased, recursive: false));
        TryDelete(() => File.Delete(Path.Combine(_processing, _instance + ".lock")));
    }

    /// <summary>A file left in tmp/ by a process killed while writing it was never renamed into ready/: it is incomplete, never sent.</summary>
    private void RemoveStaleTemporaryFiles()
    {
        foreach (var path in SafeFiles(_temp))
        {
            if (_timeProvider.GetUtcNow() - File.GetLastWriteTimeUtc(path) > TimeSpan.FromMinutes(1))
            {
                TryDelete(() => File.Delete(path));
            }
        }
    }

    private void RecoverAbandoned()
    {
        foreach (var lockPath in SafeFiles(_processing, "*.lock"))
        {
            var instance = Path.GetFileNameWithoutExtension(lockPath);
            if (instance == _instance || _timeProvider.GetUtcNow() - File.GetLastWriteTimeUtc(lockPath) < RecoveryGrace)
            {
                continue;
            }

            FileStream? taken = null;
            try
            {
                taken = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                continue; // its owner is alive
            }

            using (taken)
            {
                var folder = Path.Combine(_processing, instance);
                var recovered = 0;
                foreach (var path in SafeFiles(folder))
                {
                    try
                    {
                        File.Move(path, Path.Combine(_ready, Path.GetFileName(path)));
                        recovered++;
                    }
                    catch (IOException)
                    {
                    }
                }

                TryDelete(() => System.IO.Directory.Delete(folder, recursive: false));
                TryDelete(() => File.Delete(lockPath));
                if (recovered > 0)
                {
                    Log.OutboxRecovered(_logger, recovered, instance);
                }
            }
        }
    }

    private void Rescan()
    {
        long bytes = 0;
        var files = 0;
        foreach (var path in SafeFiles(_ready))
        {
            try
            {
                bytes += new FileInfo(path).Length;
                files++;
            }
            catch (IOException)
            {
            }
        }

        foreach (var path in SafeFiles(_leased))
        {
            try
            {
                bytes += new FileInfo(path).Length;
                files++;
            }
            catch (IOException)
            {
            }
        }

        Interlocked.Exchange(ref _bytes, bytes);
        Volatile.Write(ref _files, files);
    }

    /// <summary>Drops the oldest batches past the size cap, and those older than the age cap, counting their events.</summary>
    private void EnforceCaps()
    {
        lock (_lock)
        {
            var now = _timeProvider.GetUtcNow().UtcTicks;
            foreach (var path in ReadyFilesOldestFirst())
            {
                if (!TryParseName(path, out _, out var count, out var ticks))
                {
                    continue;
                }

                var expired = now - ticks > _options.MaxAge.Ticks;
                if (!expired && Interlocked.Read(ref _bytes) <= _options.MaxBytes)
                {
                    break;
                }

                long length;
                try
                {
                    length = new FileInfo(path).Length;
                    File.Delete(path);
                }
                catch (IOException)
                {
                    continue;
                }

                Interlocked.Add(ref _bytes, -length);
                Interlocked.Decrement(ref _files);
                var reason = expired ? DropReason.OutboxExpired : DropReason.OutboxFull;
                _metrics.Dropped(reason, count);
                Log.OutboxDropped(_logger, count, reason, _options.MaxBytes, _options.MaxAge);
            }
        }
    }

    private string[] ReadyFilesOldestFirst()
    {
        var files = SafeFiles(_ready, "*.json");
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    private static string[] SafeFiles(string folder, string pattern = "*")
    {
        try
        {
            return System.IO.Directory.GetFiles(folder, pattern);
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    private static string KindName(MpmEventKind kind) => kind == MpmEventKind.Label ? "labels" : "events";

    internal static bool TryParseName(string path, out MpmEventKind kind, out int count, out long ticks)
    {
        // {ticks:D19}-{count:D7}-{guid}.{kind}.json
        var name = Path.GetFileName(path);
        kind = name.EndsWith(".labels.json", StringComparison.Ordinal) ? MpmEventKind.Label : MpmEventKind.Prediction;
        count = 0;
        ticks = 0;
        var parts = name.Split('-', '.');
        return parts.Length >= 5
            && (name.EndsWith(".labels.json", StringComparison.Ordinal) || name.EndsWith(".events.json", StringComparison.Ordinal))
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out ticks)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out count);
    }

    private static void CreateOwnerOnly(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(directory);
        }
        else
        {
            System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static void TryDelete(Action delete)
    {
        try
        {
            delete();
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A batch leased from the outbox.</summary>
internal sealed record LeasedBatch(string Path, int Count, long Bytes, JsonPayload Payload);
