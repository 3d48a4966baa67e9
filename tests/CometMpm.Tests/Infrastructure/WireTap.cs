using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using CometMpm.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CometMpm.Tests.Infrastructure;

/// <summary>
/// A loopback server on 127.0.0.1 that either stands in front of a backend (the emulator), forwarding every request
/// unchanged and answering with what the backend answered, or stands alone as a hostile backend that answers POSTs
/// with <see cref="HostileAsync"/>'s handler. Either way it counts the POSTs it saw and, for every POST answered 2xx,
/// the prediction ids it carried: what the backend acknowledged, duplicates included.
/// </summary>
public sealed class WireTap : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, int> _acknowledged = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _closing = new();
    private readonly Uri? _upstream;
    private readonly Func<HttpContext, Task>? _onPost;
    private readonly bool _silentPing;
    private readonly HttpClient? _forward;
    private WebApplication _app = null!;
    private int _posts;

    private WireTap(Uri? upstream, Func<HttpContext, Task>? onPost, bool silentPing)
    {
        _upstream = upstream;
        _onPost = onPost;
        _silentPing = silentPing;
        if (upstream is not null)
        {
            _forward = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false })
            {
                Timeout = Timeout.InfiniteTimeSpan,
            };
        }
    }

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>POST requests received (batches, whatever became of them).</summary>
    public int Posts => Volatile.Read(ref _posts);

    /// <summary>Prediction ids carried by POSTs that were answered 2xx, with how many times.</summary>
    public IReadOnlyDictionary<string, int> Acknowledged => _acknowledged;

    /// <summary>Ids acknowledged more than once (the second and later times).</summary>
    public int Duplicates => _acknowledged.Values.Sum(n => n - 1);

    /// <summary>A tap in front of <paramref name="upstream"/>: requests go through unchanged, a dropped connection stays dropped.</summary>
    public static Task<WireTap> ProxyAsync(Uri upstream) => StartAsync(new WireTap(upstream, null, silentPing: false));

    /// <summary>A hostile backend: <c>GET …/isAlive/ping</c> answers 200 JSON (unless <paramref name="silentPing"/>), every POST goes to <paramref name="onPost"/>.</summary>
    public static Task<WireTap> HostileAsync(Func<HttpContext, Task> onPost, bool silentPing = false) =>
        StartAsync(new WireTap(null, onPost, silentPing));

    /// <summary>Answers with a status and a JSON body (or another content type).</summary>
    public static Task Answer(HttpContext context, int status, string body, string contentType = "application/json")
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        return context.Response.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>Accepts the request and never answers: the connection is cut when the client gives up or the tap stops.</summary>
    public static async Task NeverAnswer(HttpContext context)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            context.Abort();
        }
    }

    private static async Task<WireTap> StartAsync(WireTap tap)
    {
        var (app, baseUrl) = await LoopbackApp.StartAsync(tap.HandleAsync, unlimitedBody: true);
        tap._app = app;
        tap.BaseUrl = baseUrl;
        return tap;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _closing.Token);
        context.RequestAborted = aborted.Token;
        var isPost = HttpMethods.IsPost(context.Request.Method);
        if (isPost)
        {
            Interlocked.Increment(ref _posts);
        }

        if (_upstream is not null)
        {
            await ForwardAsync(context, isPost);
            return;
        }

        if (!isPost)
        {
            await (_silentPing ? NeverAnswer(context) : Answer(context, 200, """{"code":200,"msg":"ok"}"""));
            return;
        }

        await _onPost!(context);
    }

    private async Task ForwardAsync(HttpContext context, bool isPost)
    {
        var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        var bytes = body.ToArray();
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(_upstream!, context.Request.Path.Value!.TrimStart('/') + context.Request.QueryString));
        if (context.Request.Headers.Authorization.Count > 0)
        {
            request.Headers.TryAddWithoutValidation("Authorization", context.Request.Headers.Authorization.ToString());
        }

        if (isPost)
        {
            request.Content = new ByteArrayContent(bytes);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType);
        }

        HttpResponseMessage response;
        try
        {
            response = await _forward!.SendAsync(request, HttpCompletionOption.ResponseContentRead, context.RequestAborted);
        }
        catch (HttpRequestException)
        {
            context.Abort(); // the backend dropped the connection: so does the tap
            return;
        }
        catch (OperationCanceledException)
        {
            return; // the client gave up
        }

        using (response)
        {
            if (isPost && response.IsSuccessStatusCode)
            {
                using var document = JsonDocument.Parse(bytes);
                foreach (var e in document.RootElement.GetProperty("data").EnumerateArray())
                {
                    var id = e.GetProperty("predictionId");
                    _acknowledged.AddOrUpdate(id.ValueKind == JsonValueKind.String ? id.GetString()! : id.GetRawText(), 1, (_, n) => n + 1);
                }
            }

            context.Response.StatusCode = (int)response.StatusCode;
            if (response.Headers.RetryAfter is { } retryAfter)
            {
                context.Response.Headers.RetryAfter = retryAfter.ToString();
            }

            if (response.Headers.Location is { } location)
            {
                context.Response.Headers.Location = location.ToString();
            }

            if (response.Content.Headers.ContentType is { } contentType)
            {
                context.Response.ContentType = contentType.ToString();
            }

            try
            {
                await context.Response.Body.WriteAsync(await response.Content.ReadAsByteArrayAsync(), context.RequestAborted);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _forward?.Dispose();
        _closing.Dispose();
    }

    internal static string Redirect(HttpContext context, Uri to)
    {
        context.Response.StatusCode = (int)HttpStatusCode.Found;
        var location = new Uri(to, context.Request.Path.Value!.TrimStart('/')).ToString();
        context.Response.Headers.Location = location;
        return location;
    }
}
