using System.Buffers;
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
/// answers "requests bytes".
/// </summary>
public sealed class LoopbackSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _requests;
    private long _bytes;

    private LoopbackSink(WebApplication app, bool gateClosed)
    {
        _app = app;
        if (!gateClosed)
        {
            _gate.TrySetResult();
        }
    }

    public Uri BaseUrl { get; private set; } = null!;

    public long Requests => Interlocked.Read(ref _requests);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Fires when the server is asked to stop (SIGTERM, Ctrl+C).</summary>
    public CancellationToken Stopping => _app.Lifetime.ApplicationStopping;

    public void OpenGate() => _gate.TrySetResult();

    public static async Task<LoopbackSink> StartAsync(int port = 0, bool gateClosed = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options =>
        {
            options.Listen(IPAddress.Loopback, port);
            options.Limits.MaxRequestBodySize = null;
        });
        var app = builder.Build();
        var sink = new LoopbackSink(app, gateClosed);
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

            await context.Response.WriteAsync($"{Requests} {Bytes}").ConfigureAwait(false);
            return;
        }

        if (path.EndsWith("/isAlive/ping", StringComparison.Ordinal))
        {
            await _gate.Task.ConfigureAwait(false);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long total = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                total += read;
            }

            Interlocked.Add(ref _bytes, total);
            Interlocked.Increment(ref _requests);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
    }
}
