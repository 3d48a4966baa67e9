using System.Buffers;
using CometMpm.Diagnostics;
using CometMpm.Events;
using CometMpm.Serialization;
using CometMpm.Threading;
using Microsoft.Extensions.Logging;

namespace CometMpm.Persistence;

/// <summary>
/// The durable outbox store: batches as files, replayed oldest first (at-least-once; the backend ignores repeated
/// prediction ids). It only stores; what to send and when is the delivery stage's business.
/// <code>
/// {dir}/tmp/                        files being written (then renamed into ready/ or a lease folder)
/// {dir}/ready/                      complete batches (see <see cref="OutboxFileName"/>), oldest first by name
/// {dir}/processing/{instance}/      batches leased (moved here) by a live process, or in flight from it
/// {dir}/processing/{instance}.lock  held open exclusively by that process; a dead process's lock can be taken
/// {dir}/quarantine/                 files this library cannot read back: never sent, never deleted, counted
/// </code>
/// Two processes sharing the directory never send the same file at once (a lease is an atomic rename), and a
/// restarted process recovers what a dead one had leased.
/// </summary>
/// <remarks>Over 300 lines because every operation here (write, journal, lease, complete, release, replace, quarantine,
/// caps) moves files and the same file, byte and event counts together; the file-system chores live in
/// <see cref="OutboxFiles"/>.</remarks>
internal sealed class Outbox : IDisposable
{
    private static readonly TimeSpan RecoveryGrace = TimeSpan.FromSeconds(10);

    private readonly string _ready;
    private readonly string _temp;
    private readonly string _processing;
    private readonly string _quarantine;
    private readonly string _instance;
    private readonly string _leased;
    private readonly CometMpmOutboxOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly CometMpmMetrics _metrics;
    private readonly SettlementLedger _ledger;
    private readonly ILogger _logger;
    private readonly FileStream _instanceLock;
    private readonly Lock _capsLock = new();
    private long _bytes;
    private long _events;
    private int _files;
    private string? _fault;

    private Outbox(CometMpmOutboxOptions options, TimeProvider timeProvider, CometMpmMetrics metrics, SettlementLedger ledger, ILogger logger)
    {
        _options = options;
        _timeProvider = timeProvider;
        _metrics = metrics;
        _ledger = ledger;
        _logger = logger;
        Directory = Path.GetFullPath(options.Directory!);
        _ready = Path.Combine(Directory, "ready");
        _temp = Path.Combine(Directory, "tmp");
        _processing = Path.Combine(Directory, "processing");
        _quarantine = Path.Combine(Directory, "quarantine");
        foreach (var directory in new[] { Directory, _ready, _temp, _processing, _quarantine })
        {
            OutboxFiles.CreateOwnerOnly(directory);
        }

        _instance = $"{Environment.ProcessId}-{Guid.NewGuid():N}"[..20];
        _leased = Path.Combine(_processing, _instance);
        OutboxFiles.CreateOwnerOnly(_leased);

        // Held for the life of the process; the OS releases it when the process dies, however it dies.
        _instanceLock = new FileStream(Path.Combine(_processing, _instance + ".lock"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        Maintain();
    }

    /// <summary>Opens the outbox in <see cref="CometMpmOutboxOptions.Directory"/>; null with the reason when it cannot be created.</summary>
    public static Outbox? TryOpen(CometMpmOutboxOptions options, TimeProvider timeProvider, CometMpmMetrics metrics, SettlementLedger ledger, ILogger logger, out string? error)
    {
        error = null;
        try
        {
            var outbox = new Outbox(options, timeProvider, metrics, ledger, logger);
            metrics.SetOutboxSource(() => outbox.Files, () => outbox.Bytes, () => outbox.Events);
            return outbox;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error = $"The outbox directory '{options.Directory}' (CometMpm:Outbox:Directory) cannot be used: {ex.Message} Events are sent without an outbox; point CometMpm:Outbox:Directory at a writable directory and restart.";
            return null;
        }
    }

    public string Directory { get; }

    /// <summary>Pulsed when a batch is written, so an idle replay loop looks again.</summary>
    public AsyncSignal Written { get; } = new();

    public int Files => Volatile.Read(ref _files);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Events in the files this process can see (ready and leased by it).</summary>
    public long Events => Interlocked.Read(ref _events);

    /// <summary>The last I/O error reading or writing the outbox; null once an operation succeeds again.</summary>
    public string? Fault => Volatile.Read(ref _fault);

    /// <summary>Records the last I/O error (null: the last operation succeeded); health reads it.</summary>
    public void NoteFault(string? fault) => Volatile.Write(ref _fault, fault);

    /// <summary>Writes a batch for replay: to a temporary file first, then renamed into ready/, so a crash never leaves half a batch.</summary>
    public void Write(MpmEventKind kind, int count, ReadOnlyMemory<byte> body, long? ticks = null)
    {
        var name = OutboxFileName.New(ticks ?? _timeProvider.GetUtcNow().UtcTicks, count, kind);
        WriteFile(Path.Combine(_ready, name.ToString()), body, count);
        EnforceCaps();
        Written.Pulse();
    }

    /// <summary>Writes a batch whose request is still in flight, leased by this process so that replay leaves it alone.</summary>
    public LeasedBatch Journal(MpmEventKind kind, int count, ReadOnlyMemory<byte> body)
    {
        var name = OutboxFileName.New(_timeProvider.GetUtcNow().UtcTicks, count, kind);
        var path = Path.Combine(_leased, name.ToString());
        WriteFile(path, body, count);
        return new LeasedBatch(path, name, body.Length, null);
    }

    /// <summary>Leases the oldest ready batch that <paramref name="skip"/> does not exclude; null when there is none.</summary>
    public LeasedBatch? LeaseOldest(Func<OutboxFileName, bool> skip)
    {
        // Expired batches go first (counted), so a replay never sends one and the age cap holds however the loops interleave.
        EnforceCaps();
        foreach (var (path, name) in OutboxFiles.ReadyOldestFirst(_ready, Quarantine))
        {
            if (skip(name))
            {
                continue;
            }

            var leased = Path.Combine(_leased, Path.GetFileName(path));
            try
            {
                File.Move(path, leased);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                continue; // another process leased it first
            }

            var bytes = File.ReadAllBytes(leased);
            try
            {
                // The outbox and the ledger count events by the names: a file holding another number is set aside.
                return new LeasedBatch(leased, name, bytes.Length, JsonPayload.Parse(name.Kind, new ReadOnlySequence<byte>(bytes), name.Count));
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                Quarantine(leased, ex.Message);
            }
        }

        return null;
    }

    /// <summary>The batch was delivered or settled otherwise: forget it.</summary>
    public void Complete(LeasedBatch batch)
    {
        File.Delete(batch.Path);
        Forget(batch.Bytes, batch.Name.Count);
    }

    /// <summary>The batch could not be delivered now: back to ready/, in its place in the order, with its strikes.</summary>
    public void Release(LeasedBatch batch, int strikes)
    {
        File.Move(batch.Path, Path.Combine(_ready, (batch.Name with { Strikes = strikes }).ToString()));
        Written.Pulse();
    }

    /// <summary>
    /// Replaces a leased batch by the parts of it still to send. Every part is written to tmp/ first: when one cannot be
    /// written, none is kept and the batch is left as it was (so its events are never on disk twice).
    /// </summary>
    public void Replace(LeasedBatch batch, IEnumerable<(int Count, ReadOnlyMemory<byte> Body)> parts)
    {
        var written = new List<(string Temp, string Path, int Count, int Bytes)>();
        try
        {
            foreach (var (count, body) in parts)
            {
                var name = OutboxFileName.New(batch.Name.Ticks, count, batch.Name.Kind).ToString();
                written.Add((WriteTemporary(name, body), Path.Combine(_ready, name), count, body.Length));
            }
        }
        catch
        {
            foreach (var part in written)
            {
                OutboxFiles.TryIo(() => File.Delete(part.Temp));
            }

            throw;
        }

        foreach (var part in written)
        {
            File.Move(part.Temp, part.Path);
            Counted(part.Bytes, part.Count);
        }

        Complete(batch);
        Written.Pulse();
    }

    /// <summary>Moves what dead processes had leased back to ready/, sets aside what cannot be read, and recounts.</summary>
    public void Maintain()
    {
        OutboxFiles.RemoveStaleTemporaryFiles(_temp, _timeProvider);
        var recovered = OutboxFiles.RecoverAbandoned(_processing, _ready, _instance, RecoveryGrace, _timeProvider);
        if (recovered > 0)
        {
            Log.OutboxRecovered(_logger, recovered);
        }

        foreach (var path in OutboxFiles.SafeFiles(_ready))
        {
            if (!OutboxFileName.TryParse(path, out _))
            {
                Quarantine(path, "its name is not one this library writes");
            }
        }

        var (files, bytes, events) = OutboxFiles.Count(_ready, _leased);
        Volatile.Write(ref _files, files);
        Interlocked.Exchange(ref _bytes, bytes);
        Interlocked.Exchange(ref _events, events);
        EnforceCaps();
    }

    public void Dispose()
    {
        // Our leased files go back for the next process; then our lock and folder go.
        OutboxFiles.MoveAll(_leased, _ready);
        _instanceLock.Dispose();
        OutboxFiles.TryIo(() => System.IO.Directory.Delete(_leased, recursive: false));
        OutboxFiles.TryIo(() => File.Delete(Path.Combine(_processing, _instance + ".lock")));
    }

    /// <summary>A file we did not write, or damaged on disk: set aside (never sent, never deleted) and counted.</summary>
    private void Quarantine(string path, string reason)
    {
        var counted = OutboxFileName.TryParse(path, out var name);
        long length = 0;
        OutboxFiles.TryIo(() => length = new FileInfo(path).Length);
        if (!OutboxFiles.TryIo(() => File.Move(path, Path.Combine(_quarantine, Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..8]))))
        {
            return;
        }

        if (counted && (path.StartsWith(_leased, StringComparison.Ordinal) || path.StartsWith(_ready, StringComparison.Ordinal)))
        {
            Forget(length, name.Count);
            _ledger.DroppedFromOutbox(name.Count, DropReason.OutboxCorrupt);
        }

        _metrics.Quarantined();
        Log.OutboxQuarantined(_logger, path, _quarantine, reason);
    }

    private void WriteFile(string path, ReadOnlyMemory<byte> body, int count)
    {
        File.Move(WriteTemporary(Path.GetFileName(path), body), path);
        Counted(body.Length, count);
    }

    private string WriteTemporary(string name, ReadOnlyMemory<byte> body) => OutboxFiles.WriteTemporary(Path.Combine(_temp, name), body);

    private void Counted(long bytes, int count)
    {
        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Add(ref _events, count);
        Interlocked.Increment(ref _files);
    }

    private void Forget(long bytes, int count)
    {
        Interlocked.Add(ref _bytes, -bytes);
        Interlocked.Add(ref _events, -count);
        Interlocked.Decrement(ref _files);
    }

    /// <summary>Drops the oldest batches past the size cap, and those older than the age cap, counting their events.</summary>
    private void EnforceCaps()
    {
        lock (_capsLock)
        {
            var now = _timeProvider.GetUtcNow().UtcTicks;
            foreach (var (path, name) in OutboxFiles.ReadyOldestFirst(_ready, Quarantine))
            {
                var expired = now - name.Ticks > _options.MaxAge.Ticks;
                if (!expired && Bytes <= _options.MaxBytes)
                {
                    break;
                }

                long length = 0;
                if (!OutboxFiles.TryIo(() =>
                {
                    length = new FileInfo(path).Length;
                    File.Delete(path);
                }))
                {
                    continue;
                }

                Forget(length, name.Count);
                var reason = expired ? DropReason.OutboxExpired : DropReason.OutboxFull;
                _ledger.DroppedFromOutbox(name.Count, reason);
                Log.OutboxDropped(_logger, name.Count, reason, _options.MaxBytes, _options.MaxAge);
            }
        }
    }
}
