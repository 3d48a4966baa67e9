using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CometMpm.Benchmarks;

/// <summary>
/// The cheapest HTTP backend there is: a Kestrel server on 127.0.0.1 that reads and discards every request body
/// and answers 200 with no body. It stands in for the MPM backend and for an OTLP collector, so the exporters really
/// send. While the ping gate is closed, <c>GET …/isAlive/ping</c> waits: a client's sender then does not start,
/// which lets a test fill the queue first. <c>POST /control/open</c> opens the gate; <c>GET /control/stats</c>
/// answers "requests bytes otlpRequests otlpBytes otlpRecords mpmEvents".
/// <para>
/// With <c>countRecords</c> the sink also counts what the bodies carry, so a load test can show that every mode really
/// delivered one record per request: the log records of OTLP/HTTP protobuf posts to <c>/v1/logs</c> (a walk of the
/// protobuf, no generated code), and the events of MPM batches (<c>…/events/batch</c>, occurrences of
/// <c>"predictionId":</c>). Off by default: it buffers whole bodies and costs the sink CPU, which the sender scenario
/// measures and the in-process benchmarks share. It then also keeps the same six counters per first path segment, so
/// clients given different base paths (<c>/capture/…</c>, <c>/otel/v1/logs</c>) are told apart even when a late batch
/// arrives while another is being measured: <c>GET /control/stats/{segment}</c>.
/// </para>
/// </summary>
public sealed class LoopbackSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _countRecords;
    private readonly Counters _total = new();
    private readonly ConcurrentDictionary<string, Counters> _bySegment = new(StringComparer.Ordinal);

    private LoopbackSink(WebApplication app, bool gateClosed, bool countRecords)
    {
        _app = app;
        _countRecords = countRecords;
        if (!gateClosed)
        {
            _gate.TrySetResult();
        }
    }

    public Uri BaseUrl { get; private set; } = null!;

    public long Requests => Interlocked.Read(ref _total.Requests);

    public long Bytes => Interlocked.Read(ref _total.Bytes);

    /// <summary>OTLP/HTTP log export requests (<c>POST …/v1/logs</c>), counted whether or not records are counted.</summary>
    public long OtlpRequests => Interlocked.Read(ref _total.OtlpRequests);

    public long OtlpBytes => Interlocked.Read(ref _total.OtlpBytes);

    /// <summary>Log records in the OTLP requests (only with <c>countRecords</c>).</summary>
    public long OtlpRecords => Interlocked.Read(ref _total.OtlpRecords);

    /// <summary>Events in the MPM event batches (only with <c>countRecords</c>).</summary>
    public long MpmEvents => Interlocked.Read(ref _total.MpmEvents);

    /// <summary>Fires when the server is asked to stop (SIGTERM, Ctrl+C).</summary>
    public CancellationToken Stopping => _app.Lifetime.ApplicationStopping;

    public void OpenGate() => _gate.TrySetResult();

    public static async Task<LoopbackSink> StartAsync(int port = 0, bool gateClosed = false, bool countRecords = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options =>
        {
            options.Listen(IPAddress.Loopback, port);
            options.Limits.MaxRequestBodySize = null;
        });
        var app = builder.Build();
        var sink = new LoopbackSink(app, gateClosed, countRecords);
        app.Run(sink.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        sink.BaseUrl = new Uri(address.EndsWith('/') ? address : address + "/");
        return sink;
    }

    public async ValueTask DisposeAsync()
    {
        _gate.TrySetResult();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        if (path.StartsWith("/control/", StringComparison.Ordinal))
        {
            if (path == "/control/open")
            {
                OpenGate();
            }

            var counters = path.StartsWith("/control/stats/", StringComparison.Ordinal)
                ? _bySegment.GetValueOrDefault(path["/control/stats/".Length..]) ?? new Counters()
                : _total;
            await context.Response.WriteAsync(counters.ToString()).ConfigureAwait(false);
            return;
        }

        if (path.EndsWith("/isAlive/ping", StringComparison.Ordinal))
        {
            await _gate.Task.ConfigureAwait(false);
        }

        var otlp = path.EndsWith("/v1/logs", StringComparison.Ordinal);
        var mpmEvents = path.EndsWith("/events/batch", StringComparison.Ordinal);
        var (total, records) = _countRecords && (otlp || mpmEvents)
            ? await CountAsync(context.Request, otlp, context.RequestAborted).ConfigureAwait(false)
            : (await DiscardAsync(context.Request.Body, context.RequestAborted).ConfigureAwait(false), 0);
        _total.Add(total, otlp, otlp ? records : 0, otlp ? 0 : records);
        if (_countRecords)
        {
            var segment = path.AsSpan(1);
            segment = segment.IndexOf('/') is var slash and >= 0 ? segment[..slash] : segment;
            _bySegment.GetOrAdd(segment.ToString(), static _ => new Counters()).Add(total, otlp, otlp ? records : 0, otlp ? 0 : records);
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    private static async Task<long> DiscardAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
            }

            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads the whole body and counts the records in it; the byte count is as sent (before any gzip).</summary>
    private static async Task<(long Bytes, int Records)> CountAsync(HttpRequest request, bool otlp, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(request.ContentLength ?? 0, 64 * 1024, 64 * 1024 * 1024));
        var filled = 0;
        try
        {
            var counted = new CountingStream(request.Body);
            var body = string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase)
                ? new GZipStream(counted, CompressionMode.Decompress)
                : (Stream)counted;
            await using (body.ConfigureAwait(false))
            {
                int read;
                while ((read = await body.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    filled += read;
                    if (filled == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, filled).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }
                }
            }

            var content = buffer.AsSpan(0, filled);
            return (counted.BytesRead, otlp ? OtlpLogs.CountRecords(content) : CountOccurrences(content, "\"predictionId\":"u8));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int CountOccurrences(ReadOnlySpan<byte> text, ReadOnlySpan<byte> value)
    {
        var count = 0;
        int at;
        while ((at = text.IndexOf(value)) >= 0)
        {
            count++;
            text = text[(at + value.Length)..];
        }

        return count;
    }

    /// <summary>What the sink received: all requests, the OTLP log exports among them, and the records counted.</summary>
    private sealed class Counters
    {
        public long Requests;
        public long Bytes;
        public long OtlpRequests;
        public long OtlpBytes;
        public long OtlpRecords;
        public long MpmEvents;

        public void Add(long bytes, bool otlp, long otlpRecords, long mpmEvents)
        {
            Interlocked.Increment(ref Requests);
            Interlocked.Add(ref Bytes, bytes);
            if (otlp)
            {
                Interlocked.Increment(ref OtlpRequests);
                Interlocked.Add(ref OtlpBytes, bytes);
                Interlocked.Add(ref OtlpRecords, otlpRecords);
            }

            Interlocked.Add(ref MpmEvents, mpmEvents);
        }

        public override string ToString() =>
            $"{Interlocked.Read(ref Requests)} {Interlocked.Read(ref Bytes)} {Interlocked.Read(ref OtlpRequests)} {Interlocked.Read(ref OtlpBytes)} {Interlocked.Read(ref OtlpRecords)} {Interlocked.Read(ref MpmEvents)}";
    }

    /// <summary>A read-only pass-through that counts the bytes read from the request (before decompression).</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            BytesRead += read;
            return read;
        }
    }
}

/// <summary>
/// Counts the log records of an OTLP <c>ExportLogsServiceRequest</c> (protobuf): resource_logs = 1 → scope_logs = 2 →
/// log_records = 2, each a length-delimited field. The other fields are skipped by wire type, so nothing but the
/// nesting is assumed (opentelemetry-proto, <c>logs/v1/logs.proto</c> and <c>collector/logs/v1/logs_service.proto</c>).
/// </summary>
public static class OtlpLogs
{
    public static int CountRecords(ReadOnlySpan<byte> request)
    {
        var count = 0;
        var resources = new ProtoReader(request);
        while (resources.Next(out var field, out var resourceLogs))
        {
            if (field != 1)
            {
                continue;
            }

            var scopes = new ProtoReader(resourceLogs);
            while (scopes.Next(out field, out var scopeLogs))
            {
                if (field != 2)
                {
                    continue;
                }

                var records = new ProtoReader(scopeLogs);
                while (records.Next(out field, out _))
                {
                    if (field == 2)
                    {
                        count++;
                    }
                }
            }
        }

        return count;
    }

    /// <summary>Reads the fields of one protobuf message; only length-delimited fields report their bytes.</summary>
    private ref struct ProtoReader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        /// <summary>The next field's number and, when it is length-delimited (wire type 2), its bytes (else empty).</summary>
        public bool Next(out int field, out ReadOnlySpan<byte> value)
        {
            value = default;
            field = 0;
            if (_data.IsEmpty)
            {
                return false;
            }

            var key = ReadVarint();
            field = (int)(key >> 3);
            switch ((int)(key & 7))
            {
                case 0:
                    ReadVarint();
                    break;
                case 1:
                    _data = _data[8..];
                    break;
                case 2:
                    var length = checked((int)ReadVarint());
                    value = _data[..length];
                    _data = _data[length..];
                    break;
                case 5:
                    _data = _data[4..];
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type {key & 7} (field {field}).");
            }

            return true;
        }

        private ulong ReadVarint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = _data[0];
                _data = _data[1..];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new InvalidDataException("Malformed protobuf varint.");
        }
    }
}
