using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CometMpm.Configuration;
using CometMpm.Diagnostics;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace CometMpm.Transport;

/// <summary>
/// The one seam every HTTP call goes through: it owns the base URL, the <c>Authorization</c> header,
/// retries and timeouts. Retries (Polly) cover 408, 429, 5xx, per-attempt timeouts and connection
/// errors, with jittered exponential backoff that honours <c>Retry-After</c>; other 4xx are final.
/// A new request message is built for every attempt. Redirects are not followed (see <see cref="ClassifyAsync"/>): a POST
/// turned into a GET answered by someone else is not a delivery. Everything the server says back is treated as
/// untrusted text: cut to 1 KB and scrubbed of the API key before anyone logs or stores it.
/// </summary>
internal sealed partial class MpmTransport
{
    internal const string EventsPath = "v2/events/batch";
    internal const string LabelsPath = "v2/labels/batch";
    internal const string PingPath = "isAlive/ping";
    private const int MaxDetailBytes = 1024;

    internal static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    internal static readonly ProductInfoHeaderValue UserAgent = new("CometMpm.NET", typeof(MpmTransport).Assembly.GetName().Version?.ToString(3) ?? "0");

    private readonly IHttpClientFactory _httpClientFactory;
    private readonly string _apiKey;
    private readonly TimeProvider _timeProvider;
    private readonly ResiliencePipeline<HttpResponseMessage> _batchPipeline;
    private readonly ResiliencePipeline<HttpResponseMessage> _pingPipeline;
    private readonly ResiliencePipeline<HttpResponseMessage> _uploadPipeline;

    public MpmTransport(
        IHttpClientFactory httpClientFactory,
        ServerAddress address,
        CometMpmOptions options,
        SendGate gate,
        TimeProvider timeProvider,
        CometMpmMetrics metrics,
        ILogger logger)
    {
        _httpClientFactory = httpClientFactory;
        Address = address;
        _apiKey = options.ApiKey ?? string.Empty;
        _timeProvider = timeProvider;
        Metrics = metrics;
        Gate = gate;
        _batchPipeline = BuildPipeline(options, timeProvider, metrics, logger, retryStatuses: true, gate.PauseUntil);
        _pingPipeline = BuildPipeline(options, timeProvider, metrics, logger, retryStatuses: false, gate.PauseUntil);
        _uploadPipeline = BuildUploadPipeline(options, timeProvider, metrics, logger);
    }

    public ServerAddress Address { get; }

    /// <summary>The metrics of the client this transport belongs to (their tags also tag its spans).</summary>
    public CometMpmMetrics Metrics { get; }

    /// <summary>The send gate of this client; the transport sets its <c>Retry-After</c> pause and waits it out.</summary>
    public SendGate Gate { get; }

    private async Task WaitWhilePausedAsync(CancellationToken cancellationToken)
    {
        var remaining = Gate.PausedUntil - _timeProvider.GetUtcNow();
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Posts a batch body of <paramref name="events"/> events to <c>events/batch</c> or <c>labels/batch</c>: one span, <c>cometmpm.batch.send</c>.</summary>
    public async Task<TransportResult> PostBatchAsync(bool labels, ReadOnlyMemory<byte> body, int events, CancellationToken cancellationToken)
    {
        using var activity = CometMpmTracing.StartOperation(CometMpmTracing.BatchSpan, Metrics);
        DescribeBatch(activity, labels, events, body.Length);
        return await SendAsync(_batchPipeline, HttpMethod.Post, labels ? LabelsPath : EventsPath, body, activity, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The start-up health check: only connection errors and timeouts are retried, as in the Python SDK. One span, <c>cometmpm.ping</c>.</summary>
    public async Task<TransportResult> PingAsync(CancellationToken cancellationToken)
    {
        using var activity = CometMpmTracing.StartOperation(CometMpmTracing.PingSpan, Metrics);
        return await SendAsync(_pingPipeline, HttpMethod.Get, PingPath, null, activity, cancellationToken).ConfigureAwait(false);
    }

    private async Task<TransportResult> SendAsync(
        ResiliencePipeline<HttpResponseMessage> pipeline,
        HttpMethod method,
        string relativePath,
        ReadOnlyMemory<byte>? body,
        Activity? activity,
        CancellationToken cancellationToken)
    {
        var state = new TransportAttempt(_httpClientFactory.CreateClient(CometMpmOptions.HttpClientName), method, Address.Resolve(relativePath), _apiKey, body);
        DescribeRequest(activity, method, state.Uri);
        var result = await SendAsync(pipeline, state, cancellationToken).ConfigureAwait(false);
        DescribeOutcome(activity, result, state.Attempts);
        return result;
    }

    private async Task<TransportResult> SendAsync(ResiliencePipeline<HttpResponseMessage> pipeline, TransportAttempt state, CancellationToken cancellationToken)
    {
        try
        {
            await WaitWhilePausedAsync(cancellationToken).ConfigureAwait(false);
            using var response = await pipeline.ExecuteAsync(
                static (s, token) => s.SendOnceAsync(token),
                state,
                cancellationToken).ConfigureAwait(false);
            return await ClassifyAsync(response, state.Uri, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new TransportResult(0, "cancelled before the request completed", Cancelled: true, LastError: state.LastError);
        }
        catch (TimeoutRejectedException ex)
        {
            return new TransportResult(0, $"timed out after {ex.Timeout} (CometMpm:BatchSendingTimeout)", TimedOut: true);
        }
        catch (HttpRequestException ex)
        {
            return new TransportResult(0, $"{ex.HttpRequestError}: {ex.Message}");
        }
    }

    /// <summary>
    /// What a response means. A 2xx counts only when it comes from the address asked (no redirect was followed by a
    /// handler the app configured) and is not an HTML page (a proxy's or captive portal's); a 3xx is a failure that names
    /// where it pointed. Any other status keeps its meaning.
    /// </summary>
    private async Task<TransportResult> ClassifyAsync(HttpResponseMessage response, Uri requested, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (response.RequestMessage?.RequestUri is { } answered && answered != requested)
        {
            return new TransportResult(status, Scrub($"the request was redirected to {answered.GetLeftPart(UriPartial.Path)}: not the MPM backend. Set CometMpm:UrlOverride (COMET_URL_OVERRIDE) to the final address"), NotMpm: true);
        }

        if (status is >= 300 and < 400)
        {
            var location = response.Headers.Location is { } to ? (to.IsAbsoluteUri ? to.GetLeftPart(UriPartial.Path) : to.OriginalString.Split('?')[0]) : "(no Location)";
            return new TransportResult(status, Scrub($"HTTP {status} {response.ReasonPhrase}: redirected to {location}; redirects are not followed (a POST would be resent elsewhere or turned into a GET). Set CometMpm:UrlOverride (COMET_URL_OVERRIDE) to the final address"));
        }

        if (status is >= 200 and < 300)
        {
            return IsHtml(response.Content.Headers.ContentType?.MediaType)
                ? new TransportResult(status, $"HTTP {status} with an HTML page: not the MPM backend (a proxy or login page?). Check CometMpm:UrlOverride (COMET_URL_OVERRIDE) and proxies", NotMpm: true)
                : new TransportResult(status, string.Empty);
        }

        return new TransportResult(status, await ReadDetailAsync(response, cancellationToken).ConfigureAwait(false));
    }

    private static bool IsHtml(string? mediaType) =>
        string.Equals(mediaType, "text/html", StringComparison.OrdinalIgnoreCase) || string.Equals(mediaType, "application/xhtml+xml", StringComparison.OrdinalIgnoreCase);

    /// <summary>Removes the API key (as sent, and URL-encoded) from text that came from the server.</summary>
    internal string Scrub(string text)
    {
        if (_apiKey.Length < 4 || text.Length == 0)
        {
            return text;
        }

        text = text.Replace(_apiKey, "***", StringComparison.Ordinal);
        var encoded = Uri.EscapeDataString(_apiKey);
        return encoded == _apiKey ? text : text.Replace(encoded, "***", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The status and the first 1 KB of the body, scrubbed. The key is scrubbed before the text is cut: cut first, a key
    /// straddling the cut would survive in part. So a little more than 1 KB is read (room for the key, URL-encoded).
    /// </summary>
    private async Task<string> ReadDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new byte[MaxDetailBytes + (3 * Encoding.UTF8.GetByteCount(_apiKey))];
                var read = 0;
                int n;
                while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    read += n;
                }

                var limit = Encoding.UTF8.GetCharCount(buffer, 0, Math.Min(read, MaxDetailBytes));
                var window = Encoding.UTF8.GetString(buffer, 0, read);
                var text = Scrub(read == buffer.Length ? WithoutTrailingKeyPrefix(window) : window);
                text = (text.Length > limit ? text[..limit] : text).Trim().ReplaceLineEndings(" ");
                return Scrub($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}{(text.Length == 0 ? "" : ": " + text)}");
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return Scrub($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        }
    }

    /// <summary>Drops the start of a key cut by the end of the read window (what follows it was not read).</summary>
    private string WithoutTrailingKeyPrefix(string text)
    {
        foreach (var key in _apiKey.Length < 4 ? [] : new[] { _apiKey, Uri.EscapeDataString(_apiKey) })
        {
            for (var length = Math.Min(key.Length - 1, text.Length); length > 0; length--)
            {
                if (text.EndsWith(key[..length], StringComparison.OrdinalIgnoreCase))
                {
                    return text[..^length];
                }
            }
        }

        return text;
    }

    private static ResiliencePipeline<HttpResponseMessage> BuildPipeline(
        CometMpmOptions options,
        TimeProvider timeProvider,
        CometMpmMetrics metrics,
        ILogger logger,
        bool retryStatuses,
        Action<DateTimeOffset>? pauseUntil = null)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = timeProvider };
        if (options.MaxRetryAttempts > 0)
        {
            var maxDelay = options.RetryMaxDelay;
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = maxDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Exception: HttpRequestException or TimeoutRejectedException } => true,
                    { Result: { } response } => retryStatuses && IsTransient(response.StatusCode),
                    _ => false,
                }),
                DelayGenerator = args =>
                {
                    var retryAfter = RetryAfter(args.Outcome.Result, timeProvider, maxDelay);
                    if (retryAfter is { } pause)
                    {
                        pauseUntil?.Invoke(timeProvider.GetUtcNow() + pause); // every sender waits, not only this request
                    }

                    return ValueTask.FromResult(retryAfter);
                },
                OnRetry = args =>
                {
                    metrics.Retried();
                    var reason = args.Outcome.Exception?.Message ?? $"HTTP {(int)args.Outcome.Result!.StatusCode}";
                    Log.Retrying(logger, args.Outcome.Result?.RequestMessage?.RequestUri?.AbsolutePath ?? "request", args.AttemptNumber + 1, args.RetryDelay, reason);
                    return default;
                },
            });
        }

        return builder.AddTimeout(options.BatchSendingTimeout).Build();
    }

    internal static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
            or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway
            or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    /// <summary>The delay a <c>Retry-After</c> header asks for (seconds or an HTTP date), capped; null when absent.</summary>
    internal static TimeSpan? RetryAfter(HttpResponseMessage? response, TimeProvider timeProvider, TimeSpan max)
    {
        var header = response?.Headers.RetryAfter;
        TimeSpan? delay = header switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - timeProvider.GetUtcNow(),
            _ => null,
        };
        if (delay is null)
        {
            return null;
        }

        return delay.Value < TimeSpan.Zero ? TimeSpan.Zero : delay.Value > max ? max : delay.Value;
    }
}
