using CometMpm.Testing;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CometMpm.Tests.Infrastructure;

/// <summary>One request and what the server did with it (status 0: the connection was reset).</summary>
public sealed record AnsweredRequest(RecordedRequest Request, int Status);

/// <summary>
/// A real Kestrel server on 127.0.0.1 that misbehaves the way proxies, captive portals and broken backends do.
/// It records every request (method, path, headers, body) and what it answered, then lets a behaviour answer.
/// The ping path answers like a healthy MPM unless the behaviour says otherwise.
/// </summary>
public sealed class HostileServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<AnsweredRequest> _answered = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private readonly Func<HttpContext, RecordedRequest, Task<int>> _behaviour;

    private HostileServer(WebApplication app, Func<HttpContext, RecordedRequest, Task<int>> behaviour)
    {
        _app = app;
        _behaviour = behaviour;
    }

    public Uri BaseUrl { get; private set; } = null!;

    public IReadOnlyList<AnsweredRequest> Answered => [.. _answered];

    public IReadOnlyList<RecordedRequest> Requests => [.. _answered.Select(a => a.Request)];

    public IReadOnlyList<RecordedRequest> Posts => [.. Requests.Where(r => r.Method == "POST")];

    /// <summary>Starts a server; <paramref name="behaviour"/> writes the answer and returns the status it sent (0 for a reset).</summary>
    public static async Task<HostileServer> StartAsync(Func<HttpContext, RecordedRequest, Task<int>> behaviour)
    {
        HostileServer? server = null;
        var (app, baseUrl) = await LoopbackApp.StartAsync(context => server!.HandleAsync(context), unlimitedBody: true);
        server = new HostileServer(app, behaviour) { BaseUrl = baseUrl };
        return server;
    }

    public static bool IsPing(RecordedRequest request) => request.Path.EndsWith("isAlive/ping", StringComparison.Ordinal);

    /// <summary>Answers 200 <c>{"code":200}</c> to anything: the stranger a redirect leads to, or a recording MPM.</summary>
    public static Task<int> AlwaysOk(HttpContext context, RecordedRequest request) => JsonAsync(context, 200, "{\"code\":200}");

    /// <summary>Ping 200; every other request answered with <paramref name="status"/> and a <c>Location</c>.</summary>
    public static Func<HttpContext, RecordedRequest, Task<int>> Redirect(int status, Uri location) => (context, request) =>
    {
        if (IsPing(request))
        {
            return AlwaysOk(context, request);
        }

        context.Response.StatusCode = status;
        context.Response.Headers.Location = location.ToString();
        return Task.FromResult(status);
    };

    /// <summary>Ping 200; every other request answered 200 <c>text/html</c>, as a captive portal or a proxy's login page does.</summary>
    public static Task<int> HtmlLoginPage(HttpContext context, RecordedRequest request)
    {
        if (IsPing(request))
        {
            return AlwaysOk(context, request);
        }

        return WriteAsync(context, 200, "text/html; charset=utf-8", "<html>login</html>");
    }

    /// <summary>Ping 200; every other request answered <paramref name="status"/> with a body that repeats the request's Authorization header.</summary>
    public static Func<HttpContext, RecordedRequest, Task<int>> EchoAuthorization(int status) => (context, request) =>
    {
        if (IsPing(request))
        {
            return AlwaysOk(context, request);
        }

        request.Headers.TryGetValue("Authorization", out var key);
        return JsonAsync(context, status, $"{{\"code\":{status},\"msg\":\"invalid request from key {key}\"}}");
    };

    /// <summary>Ping 200; every POST answered <paramref name="status"/> (a backend that refuses everything).</summary>
    public static Func<HttpContext, RecordedRequest, Task<int>> RefuseEveryPost(int status) => (context, request) =>
        IsPing(request) ? AlwaysOk(context, request) : JsonAsync(context, status, $"{{\"code\":{status},\"msg\":\"refused\"}}");

    /// <summary>Ping 200; a body containing <paramref name="marker"/> gets its connection reset, anything else 200.</summary>
    public static Func<HttpContext, RecordedRequest, Task<int>> ResetOnMarker(string marker) => (context, request) =>
    {
        if (request.Body.Contains(marker, StringComparison.Ordinal))
        {
            context.Abort();
            return Task.FromResult(0);
        }

        return AlwaysOk(context, request);
    };

    /// <summary>The ping answers <paramref name="pingStatus"/> after <paramref name="pingDelay"/>; anything else 200.</summary>
    public static Func<HttpContext, RecordedRequest, Task<int>> SlowPing(TimeSpan pingDelay, int pingStatus) => async (context, request) =>
    {
        if (!IsPing(request))
        {
            return await AlwaysOk(context, request);
        }

        await Task.Delay(pingDelay);
        return await JsonAsync(context, pingStatus, $"{{\"code\":{pingStatus}}}");
    };

    public static Task<int> JsonAsync(HttpContext context, int status, string body) => WriteAsync(context, status, "application/json", body);

    private static async Task<int> WriteAsync(HttpContext context, int status, string contentType, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        await context.Response.WriteAsync(body);
        return status;
    }

    /// <summary>Waits (on a signal, not a sleep) until what the server answered satisfies <paramref name="condition"/>; false on timeout.</summary>
    public async Task<bool> WaitForAsync(Func<IReadOnlyList<AnsweredRequest>, bool> condition, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!condition(Answered))
        {
            try
            {
                await _arrived.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                return condition(Answered);
            }
        }

        return true;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var request = new RecordedRequest(context.Request.Method, context.Request.Path.Value ?? "", headers, body);
        var status = 0;
        try
        {
            status = await _behaviour(context, request);
        }
        finally
        {
            _answered.Enqueue(new AnsweredRequest(request, status));
            _arrived.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _arrived.Dispose();
    }
}

/// <summary>A TCP listener on 127.0.0.1 that accepts connections and never answers (a hung backend or a black-holing proxy).</summary>
public sealed class SilentTcpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentBag<Socket> _accepted = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    public SilentTcpServer()
    {
        _listener.Start();
        BaseUrl = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _acceptLoop = Task.Run(AcceptAsync);
    }

    public Uri BaseUrl { get; }

    /// <summary>How many connections were accepted (and left unanswered).</summary>
    public int Connections => _accepted.Count;

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                _accepted.Add(await _listener.AcceptSocketAsync(_stop.Token));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var socket in _accepted)
        {
            socket.Dispose();
        }

        try
        {
            _acceptLoop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        _stop.Dispose();
    }
}
