using CometMpm.Testing;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CometMpm.AspNetCore.Tests.Infrastructure;

/// <summary>One request as the server saw it.</summary>
public sealed record RecordedRequest(string Method, string Path, string Body)
{
    public IReadOnlyList<JsonElement> Events => [.. JsonDocument.Parse(Body).RootElement.GetProperty("data").EnumerateArray()];
}

/// <summary>
/// A real Kestrel server on 127.0.0.1 that records every request and answers 200 <c>{"code":200}</c>
/// (adapted from tests/CometMpm.Tests/Infrastructure/ScriptedMpmServer.cs).
/// </summary>
public sealed class RecordingMpmServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();

    private RecordingMpmServer(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>Every prediction event received so far.</summary>
    public IReadOnlyList<JsonElement> Predictions => [.. Requests.Where(r => r.Path.EndsWith("events/batch", StringComparison.Ordinal)).SelectMany(r => r.Events)];

    /// <summary>Every label event received so far.</summary>
    public IReadOnlyList<JsonElement> Labels => [.. Requests.Where(r => r.Path.EndsWith("labels/batch", StringComparison.Ordinal)).SelectMany(r => r.Events)];

    public static async Task<RecordingMpmServer> StartAsync()
    {
        RecordingMpmServer? server = null;
        var (app, baseUrl) = await LoopbackApp.StartAsync(context => server!.HandleAsync(context));
        server = new RecordingMpmServer(app) { BaseUrl = baseUrl };
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        _requests.Enqueue(new RecordedRequest(context.Request.Method, context.Request.Path.Value ?? "", body));
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync("{\"code\":200}");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
