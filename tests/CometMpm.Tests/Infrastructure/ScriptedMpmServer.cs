using CometMpm.Testing;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CometMpm.Tests.Infrastructure;

/// <summary>One request as the server saw it.</summary>
public sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public IReadOnlyList<JsonElement> Events => [.. Json.GetProperty("data").EnumerateArray()];
}

/// <summary>A scripted response: status, optional Retry-After, optional body.</summary>
public sealed record ScriptedResponse(int Status, string? RetryAfter = null, string? Body = null, TimeSpan? Delay = null);

/// <summary>
/// A real Kestrel server on 127.0.0.1 that records every request and answers from a script
/// (then 200 <c>{"code":200}</c>), the way OpenTelemetry tests its exporters against an in-process collector.
/// </summary>
public sealed class ScriptedMpmServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentQueue<ScriptedResponse> _script = new();
    private readonly SemaphoreSlim _arrived = new(0);

    private ScriptedMpmServer(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Answer for requests to the ping path when the script is empty.</summary>
    public int PingStatus { get; set; } = 200;

    /// <summary>How long the ping waits before it answers.</summary>
    public TimeSpan PingDelay { get; set; }

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public IReadOnlyList<RecordedRequest> Batches => [.. _requests.Where(r => r.Method == "POST")];

    public static async Task<ScriptedMpmServer> StartAsync()
    {
        ScriptedMpmServer? server = null;
        var (app, baseUrl) = await LoopbackApp.StartAsync(context => server!.HandleAsync(context));
        server = new ScriptedMpmServer(app) { BaseUrl = baseUrl };
        return server;
    }

    public void Enqueue(params ScriptedResponse[] responses)
    {
        foreach (var response in responses)
        {
            _script.Enqueue(response);
        }
    }

    /// <summary>Waits (on a signal, not a sleep) until the recorded requests satisfy <paramref name="condition"/>.</summary>
    public async Task<IReadOnlyList<RecordedRequest>> WaitForAsync(Func<IReadOnlyList<RecordedRequest>, bool> condition, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var snapshot = Requests;
            if (condition(snapshot))
            {
                return snapshot;
            }

            try
            {
                await _arrived.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"The expected requests did not arrive; got {snapshot.Count}: {string.Join(", ", snapshot.Select(r => r.Method + " " + r.Path))}");
            }
        }
    }

    public Task<IReadOnlyList<RecordedRequest>> WaitForBatchesAsync(int count, TimeSpan? timeout = null) =>
        WaitForAsync(r => r.Count(x => x.Method == "POST") >= count, timeout);

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var isPing = context.Request.Path.Value?.EndsWith("isAlive/ping", StringComparison.Ordinal) == true;
        ScriptedResponse response = !isPing && _script.TryDequeue(out var scripted)
            ? scripted
            : new ScriptedResponse(isPing ? PingStatus : 200);
        if (response.Delay is { } delay)
        {
            await Task.Delay(delay);
        }

        if (isPing && PingDelay > TimeSpan.Zero)
        {
            await Task.Delay(PingDelay);
        }

        _requests.Enqueue(new RecordedRequest(context.Request.Method, context.Request.Path.Value ?? "", headers, body));
        _arrived.Release();
        context.Response.StatusCode = response.Status;
        if (response.RetryAfter is not null)
        {
            context.Response.Headers.RetryAfter = response.RetryAfter;
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(response.Body ?? $"{{\"code\":{response.Status}}}");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _arrived.Dispose();
    }
}
