using CometMpm.Testing;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace CometMpm.Datasets.Tests.Infrastructure;

/// <summary>One part of a multipart request as the server parsed it.</summary>
public sealed record RecordedPart(string Name, string? FileName, string? ContentType, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>One request as the server saw it; multipart bodies are parsed with <see cref="MultipartReader"/>.</summary>
public sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string? Body, IReadOnlyList<RecordedPart> Parts)
{
    public IReadOnlyList<JsonElement> Events => [.. JsonDocument.Parse(Body!).RootElement.GetProperty("data").EnumerateArray()];

    public IReadOnlyList<KeyValuePair<string, string>> Fields => [.. Parts.Where(p => p.Name != "file").Select(p => new KeyValuePair<string, string>(p.Name, p.Text))];

    public RecordedPart File => Parts.Single(p => p.Name == "file");
}

/// <summary>A scripted answer.</summary>
public sealed record ScriptedAnswer(int Status, string? Body = null, string? RetryAfter = null);

/// <summary>
/// A real Kestrel server on 127.0.0.1 that records requests (parsing multipart uploads) and answers from a script,
/// then 200. CSV uploads are answered with streamed progress lines. In counting mode it keeps no bodies, only the number
/// of events, so that a load test measures the client's memory, not the server's.
/// </summary>
public sealed class RecordingServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentQueue<ScriptedAnswer> _script = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private long _events;

    private RecordingServer(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;

    public bool CountOnly { get; set; }

    public TimeSpan BatchDelay { get; set; }

    public long EventCount => Interlocked.Read(ref _events);

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public IReadOnlyList<RecordedRequest> Uploads => [.. _requests.Where(r => r.Path.EndsWith("/csv", StringComparison.Ordinal))];

    public IReadOnlyList<JsonElement> Events => [.. _requests.Where(r => r.Path.EndsWith("events/batch", StringComparison.Ordinal)).SelectMany(r => r.Events)];

    public static async Task<RecordingServer> StartAsync()
    {
        RecordingServer? server = null;
        var (app, baseUrl) = await LoopbackApp.StartAsync(context => server!.HandleAsync(context), unlimitedBody: true);
        server = new RecordingServer(app) { BaseUrl = baseUrl };
        return server;
    }

    public void Enqueue(params ScriptedAnswer[] answers)
    {
        foreach (var answer in answers)
        {
            _script.Enqueue(answer);
        }
    }

    public async Task WaitForEventsAsync(long count, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        while (EventCount < count)
        {
            try
            {
                await _arrived.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Expected {count} events, got {EventCount}.");
            }
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "";
        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        string? body = null;
        var parts = new List<RecordedPart>();
        if (request.ContentType?.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) == true)
        {
            var boundary = HeaderUtilities.RemoveQuotes(MediaTypeHeaderValue.Parse(request.ContentType).Boundary).ToString();
            var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = null };
            while (await reader.ReadNextSectionAsync() is { } section)
            {
                ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition);
                using var buffer = new MemoryStream();
                if (CountOnly)
                {
                    await section.Body.CopyToAsync(Stream.Null);
                }
                else
                {
                    await section.Body.CopyToAsync(buffer);
                }

                parts.Add(new RecordedPart(
                    HeaderUtilities.RemoveQuotes(disposition!.Name).ToString(),
                    disposition.FileName.HasValue ? HeaderUtilities.RemoveQuotes(disposition.FileName).ToString() : null,
                    section.ContentType,
                    buffer.ToArray()));
            }
        }
        else
        {
            using var reader = new StreamReader(request.Body, Encoding.UTF8);
            var text = await reader.ReadToEndAsync();
            if (path.EndsWith("/batch", StringComparison.Ordinal) && text.Length > 0)
            {
                Interlocked.Add(ref _events, JsonDocument.Parse(text).RootElement.GetProperty("data").GetArrayLength());
            }

            body = CountOnly ? null : text;
            if (BatchDelay > TimeSpan.Zero)
            {
                await Task.Delay(BatchDelay);
            }
        }

        var isPing = path.EndsWith("isAlive/ping", StringComparison.Ordinal);
        if (!CountOnly || !path.EndsWith("/batch", StringComparison.Ordinal))
        {
            _requests.Enqueue(new RecordedRequest(request.Method, path, headers, body, parts));
        }

        _arrived.Release();
        var answer = !isPing && _script.TryDequeue(out var scripted) ? scripted : new ScriptedAnswer(200);
        context.Response.StatusCode = answer.Status;
        if (answer.RetryAfter is not null)
        {
            context.Response.Headers.RetryAfter = answer.RetryAfter;
        }

        if (answer.Body is not null)
        {
            await context.Response.WriteAsync(answer.Body);
        }
        else if (path.EndsWith("/csv", StringComparison.Ordinal))
        {
            // Streamed progress lines, like the MPM backend.
            context.Response.ContentType = "text/plain";
            var size = parts.FirstOrDefault(p => p.Name == "file")?.Body.Length ?? 0;
            await context.Response.WriteAsync($"received {size} bytes\n");
            await context.Response.Body.FlushAsync();
            await context.Response.WriteAsync("done\n");
        }
        else
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($"{{\"code\":{answer.Status}}}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _arrived.Dispose();
    }
}
