using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CometMpm.Diagnostics;
using CometMpm.Emulator;
using CometMpm.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using static CometMpm.Tests.Infrastructure.TestClient;
using static CometMpm.Tests.Infrastructure.TestHelpers;

namespace CometMpm.Tests;

/// <summary>
/// Variants of the README's delivery promises that the promise tests and the fault matrix do not try: other statuses and
/// content types, other exception sources, other queue policies, end and flush called in odd ways, damaged outbox
/// files. Each test is bounded in time and asserts the quantity the promise is about (the ledger first).
/// </summary>
public sealed class DeliveryAttackTests : IDisposable
{
    private readonly string _outbox = Path.Combine(Path.GetTempPath(), "cometmpm-attack-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_outbox))
        {
            Directory.Delete(_outbox, recursive: true);
        }
    }

    // ------------------------------------------------------------------ the worker and the ledger

    // Events the worker has read from the queue into a batch that is still filling are neither queued nor "in hand".
    [Fact]
    public async Task Ledger_EventsInABatchStillFilling_AreCountedAsPending()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:MaxBatchTime"] = "00:00:30" });
        for (var i = 0; i < 5; i++)
        {
            Assert.True(client.Mpm.LogEvent($"fill-{i}", Features(("i", i))).IsAccepted);
        }

        Assert.True(await WaitUntilAsync(() => client.Client.Queue.Count == 0, TimeSpan.FromSeconds(5)), "setup: the worker did not take the events");
        await Task.Delay(100); // quiet: nothing is sent before the batch time (30 s)

        var ledger = client.Client.Ledger;
        Assert.True(ledger.Unaccounted == 0, $"At a quiet moment, with the batch filling: {ledger}");
        Assert.Empty(server.Batches);
        Assert.True(await client.Mpm.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10)));
        LedgerAssert.Balanced(client);
    }

    // EndAsync(TimeSpan.Zero) (or a host stop whose token is already cancelled) while a batch is filling.
    [Fact]
    public async Task EndAsyncWithZeroTimeout_WhileABatchIsFilling_EveryEventIsSettled()
    {
        for (var round = 0; round < 3; round++)
        {
            await using var server = await ScriptedMpmServer.StartAsync();
            await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:MaxBatchTime"] = "00:00:30" });
            for (var i = 0; i < 5; i++)
            {
                client.Mpm.LogEvent($"zero-{i}", Features(("i", i)));
            }

            Assert.True(await WaitUntilAsync(() => client.Client.Queue.Count == 0, TimeSpan.FromSeconds(5)), "setup: the worker did not take the events");
            var ended = await client.Mpm.EndAsync(TimeSpan.Zero).WaitAsync(TimeSpan.FromSeconds(10));

            var ledger = client.Client.Ledger;
            Assert.True(ledger.Unaccounted == 0, $"round {round}: after EndAsync(0) returned {ended}: {ledger}");
            Assert.Equal(ledger.Delivered == 5, ended);
        }
    }

    // A logging provider that throws (Microsoft.Extensions.Logging rethrows it as an AggregateException) must not kill the loop.
    [Fact]
    public async Task ThrowingLoggerProvider_TheWorkerSurvives_AndLaterEventsAreDelivered()
    {
        var failing = true;
        await using var server = await HostileServer.StartAsync((context, request) =>
            HostileServer.IsPing(request) || !Volatile.Read(ref failing)
                ? HostileServer.AlwaysOk(context, request)
                : HostileServer.JsonAsync(context, 500, """{"code":500}"""));
        var settings = Settings(server.BaseUrl);
        settings["CometMpm:MaxRetryAttempts"] = "0";
        settings["CometMpm:CircuitBreakerFailureThreshold"] = "1";
        settings["CometMpm:CircuitBreakDuration"] = "00:00:00.100";
        settings["CometMpm:EndTimeout"] = "00:00:02";
        await using var stop = new HostStopper(await StartHostAsync(settings, logging: l => l.AddProvider(new ThrowingLoggerProvider())));
        var host = stop.Host;
        var mpm = host.Services.GetRequiredService<ICometMpm>();
        var client = (CometMpmClient)mpm;
        await client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));

        mpm.LogEvent("tl-0", Features(("i", 0)));
        var first = await TryWithin(mpm.FlushAsync(), 5);
        Volatile.Write(ref failing, false);
        await Task.Delay(200); // the circuit closes

        for (var i = 1; i <= 5; i++)
        {
            mpm.LogEvent($"tl-{i}", Features(("i", i)));
        }

        await TryWithin(mpm.FlushAsync(), 5);
        var delivered = await server.WaitForAsync(a => a.Any(x => x.Status == 200 && x.Request.Body.Contains("tl-5", StringComparison.Ordinal)), TimeSpan.FromSeconds(2));
        var ledger = client.Ledger;
        Assert.True(delivered, $"After a logging provider threw, nothing more was sent (first flush: {first?.ToString() ?? "no answer"}; loop {client.Completion.Status}: {client.Completion.Exception?.InnerException?.GetType().Name} {client.Completion.Exception?.InnerException?.Message}); {ledger}");
        Assert.True(await WaitUntilAsync(() => client.Ledger.Unaccounted == 0, TimeSpan.FromSeconds(3)), $"{client.Ledger}");
    }

    // An exception of another type thrown by a handler the app put into the "CometMpm" HttpClient.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HandlerThrowingInvalidOperation_BatchSettledAsInternalErrorOrKept_AndTheLoopGoesOn(bool outbox)
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        var throwing = new ThrowCounter(times: 1);
        var settings = Settings(server.BaseUrl);
        settings["CometMpm:EndTimeout"] = "00:00:02";
        if (outbox)
        {
            settings["CometMpm:Outbox:Directory"] = _outbox;
            settings["CometMpm:Outbox:SpillInterval"] = "00:00:00.200";
        }

        using var host = await StartHostAsync(settings, services: s => s.AddHttpClient(CometMpmOptions.HttpClientName).AddHttpMessageHandler(() => new ThrowingHandler(throwing)));
        var mpm = host.Services.GetRequiredService<ICometMpm>();
        var client = (CometMpmClient)mpm;
        mpm.LogEvent("ex-0", Features(("i", 0)));
        var first = await TryWithin(mpm.FlushAsync(), 5);
        Assert.Equal(1, throwing.Thrown);
        Assert.False(first);

        for (var i = 1; i <= 5; i++)
        {
            mpm.LogEvent($"ex-{i}", Features(("i", i)));
        }

        Assert.True(await TryWithin(mpm.FlushAsync(), 5) is not null);
        await server.WaitForAsync(r => r.Any(x => x.Body.Contains("ex-5", StringComparison.Ordinal)), TimeSpan.FromSeconds(5));
        if (outbox)
        {
            await server.WaitForAsync(r => r.Any(x => x.Method == "POST" && x.Body.Contains("\"ex-0\"", StringComparison.Ordinal)), TimeSpan.FromSeconds(8));
        }

        Assert.True(await WaitUntilAsync(() => client.Ledger is { Unaccounted: 0, Pending: 0, InOutbox: 0 }, TimeSpan.FromSeconds(5)), $"{client.Ledger}");
        var ledger = client.Ledger;
        Assert.Equal(outbox ? 6 : 5, ledger.Delivered);
        Assert.Equal(outbox ? 0 : 1, ledger.Dropped.GetValueOrDefault(DropReason.InternalError));
    }

    // ------------------------------------------------------------------ "delivered means MPM said so"

    [Theory]
    [InlineData(301)]
    [InlineData(308)]
    public async Task PermanentRedirect_IsNotADelivery(int status)
    {
        await using var stranger = await HostileServer.StartAsync(HostileServer.AlwaysOk);
        await using var server = await HostileServer.StartAsync(HostileServer.Redirect(status, new Uri(stranger.BaseUrl, "mpm/v2/events/batch")));
        await using var client = await StartAsync(Settings(server.BaseUrl), settings: FastFailure());
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 5; i++)
        {
            client.Mpm.LogEvent($"pr-{i}", Features(("i", i)));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 8);

        Assert.False(flushed);
        Assert.Equal(0, client.Sent.Total());
        Assert.DoesNotContain(stranger.Requests, r => r.Method == "POST");
        LedgerAssert.Balanced(client);
    }

    // The README invites "configure proxies or certificates with services.AddHttpClient("CometMpm")…": a primary handler
    // the app supplies follows redirects by default, and a 307 resends the whole batch to whoever the Location names.
    [Fact]
    public async Task AppSuppliedPrimaryHandler_307Redirect_TheStrangerGetsNoEvents()
    {
        await using var stranger = await HostileServer.StartAsync(HostileServer.AlwaysOk);
        await using var server = await HostileServer.StartAsync(HostileServer.Redirect(307, new Uri(stranger.BaseUrl, "collect")));
        var settings = Settings(server.BaseUrl);
        foreach (var (key, value) in FastFailure())
        {
            settings[key] = value;
        }

        using var host = await StartHostAsync(settings, services: s => s.AddHttpClient(CometMpmOptions.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseProxy = false }));
        var mpm = host.Services.GetRequiredService<ICometMpm>();
        var client = (CometMpmClient)mpm;
        await client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 5; i++)
        {
            mpm.LogEvent($"ph-{i}", Features(("i", i)));
        }

        var flushed = await TryWithin(mpm.FlushAsync(), 8);

        Assert.False(flushed);
        Assert.Equal(0, client.Ledger.Delivered);
        Assert.True(!stranger.Requests.Any(r => r.Body.Contains("ph-0", StringComparison.Ordinal)), $"The stranger at {stranger.BaseUrl} received the batch: {string.Join(", ", stranger.Requests.Select(r => r.Method + " " + r.Path))}");
    }

    // An HTML page is evidently not the MPM backend, whatever the case of its media type. (A 2xx in another form — no
    // body, text/plain — still counts: the real backend's answers are not documented beyond {"code": 200}, and the
    // Python SDK counts any status below 400, so refusing them could lose every batch against the real backend.)
    [Theory]
    [InlineData(200, "TEXT/HTML; charset=utf-8", "<html><body>Sign in</body></html>")]
    [InlineData(200, "application/xhtml+xml", "<html xmlns=\"http://www.w3.org/1999/xhtml\"><body>Sign in</body></html>")]
    public async Task Answer2xxWithAnHtmlPage_IsNotADelivery(int status, string? contentType, string body)
    {
        await using var server = await HostileServer.StartAsync(async (context, request) =>
        {
            if (HostileServer.IsPing(request))
            {
                return await HostileServer.AlwaysOk(context, request);
            }

            context.Response.StatusCode = status;
            if (contentType is not null)
            {
                context.Response.ContentType = contentType;
            }

            if (body.Length > 0)
            {
                await context.Response.WriteAsync(body);
            }

            return status;
        });
        await using var client = await StartAsync(Settings(server.BaseUrl), settings: FastFailure());
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 5; i++)
        {
            client.Mpm.LogEvent($"nj-{i}", Features(("i", i)));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 8);

        Assert.True(client.Sent.Total() == 0, $"{client.Sent.Total()} events counted as delivered after HTTP {status} {contentType ?? "(no content type)"} \"{body}\"; flush returned {flushed}.");
        Assert.False(flushed);
        LedgerAssert.Balanced(client);
    }

    // A server that sends the status line and part of an error body, then drops the connection.
    [Fact]
    public async Task ServerClosingMidResponse_IsRetried_AndEverythingIsDeliveredOnce()
    {
        var posts = 0;
        await using var server = await HostileServer.StartAsync(async (context, request) =>
        {
            if (HostileServer.IsPing(request) || Interlocked.Increment(ref posts) > 2)
            {
                return await HostileServer.AlwaysOk(context, request);
            }

            context.Response.StatusCode = 503;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = 4096;
            await context.Response.WriteAsync("{\"code\":503,\"msg\":\"overlo");
            await context.Response.Body.FlushAsync();
            context.Abort();
            return 0;
        });
        await using var client = await StartAsync(Settings(server.BaseUrl), settings: new Dictionary<string, string?> { ["CometMpm:MaxRetryAttempts"] = "3", ["CometMpm:EndTimeout"] = "00:00:03" });
        for (var i = 0; i < 20; i++)
        {
            client.Mpm.LogEvent($"mid-{i}", Features(("i", i)));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 8);

        Assert.True(flushed, $"flush returned {flushed}; {client.Client.Ledger}");
        var ids = server.Answered.Where(a => a.Status == 200 && a.Request.Method == "POST").SelectMany(a => a.Request.Events).Select(Id).ToList();
        Assert.Equal(20, ids.Count);
        Assert.Equal(20, ids.Distinct().Count());
        LedgerAssert.Balanced(client);
    }

    // Retry-After as an HTTP date (RFC 9110), not as seconds.
    [Fact]
    public async Task RetryAfterAsHttpDate_PausesSending_ThenEverythingIsDelivered()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        var until = DateTimeOffset.UtcNow.AddSeconds(3);
        server.Enqueue(new ScriptedResponse(503, RetryAfter: until.ToString("R", CultureInfo.InvariantCulture)));
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:MaxRetryAttempts"] = "2", ["CometMpm:EndTimeout"] = "00:00:08" });
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 10; i++)
        {
            client.Mpm.LogEvent($"ra-{i}", Features(("i", i)));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 9);

        Assert.True(flushed, $"flush returned {flushed}; {client.Client.Ledger}");
        Assert.True(client.Client.PausedUntil >= until.AddSeconds(-2), $"The pause ({client.Client.PausedUntil:O}) ignored the date {until:R}.");
        Assert.Equal(10, client.Client.Ledger.Delivered);
        LedgerAssert.Balanced(client);
    }

    // ------------------------------------------------------------------ labels

    [Fact]
    public async Task MixedLabelsAndPredictions_OneBadLabel_TheBadLabelIsDroppedInvalid_EverythingElseDelivered()
    {
        const string Bad = "lbl-bad-9e1";
        await using var server = await HostileServer.StartAsync((context, request) =>
        {
            if (!HostileServer.IsPing(request) && request.Path.EndsWith("labels/batch", StringComparison.Ordinal) && request.Body.Contains(Bad, StringComparison.Ordinal))
            {
                return HostileServer.JsonAsync(context, 400, """{"code":400,"msg":"bad label"}""");
            }

            return HostileServer.AlwaysOk(context, request);
        });
        await using var client = await StartAsync(Settings(server.BaseUrl), settings: FastFailure());
        for (var i = 0; i < 10; i++)
        {
            Assert.True(client.Mpm.LogEvent($"mx-{i}", Features(("i", i))).IsAccepted);
            Assert.True(client.Mpm.LogLabel(i == 4 ? Bad : $"mx-{i}", Features(("is_fraud", i % 2 == 0))).IsAccepted);
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 8);

        Assert.False(flushed);
        var ok = server.Answered.Where(a => a.Status == 200 && a.Request.Method == "POST").ToList();
        Assert.Equal(10, ok.Where(a => a.Request.Path.EndsWith("events/batch", StringComparison.Ordinal)).SelectMany(a => a.Request.Events).Count());
        var labels = ok.Where(a => a.Request.Path.EndsWith("labels/batch", StringComparison.Ordinal)).SelectMany(a => a.Request.Events).Select(Id).ToList();
        Assert.Equal(9, labels.Count);
        Assert.DoesNotContain(Bad, labels);
        var ledger = client.Client.Ledger;
        Assert.Equal(19, ledger.Delivered);
        Assert.Equal(1, ledger.Dropped.GetValueOrDefault(DropReason.Invalid));
        LedgerAssert.Balanced(client);
    }

    // ------------------------------------------------------------------ full-queue policies under an outage

    [Theory]
    [InlineData("DropOldest")]
    [InlineData("Wait")]
    public async Task FullQueuePolicy_DuringAnOutage_EveryAcceptedEventIsSettled_AndFlushAnswersFalse(string policy)
    {
        await using var server = await HostileServer.StartAsync(HostileServer.RefuseEveryPost(503));
        await using var client = await StartAsync(Settings(server.BaseUrl), settings: new Dictionary<string, string?>
        {
            ["CometMpm:FullQueuePolicy"] = policy,
            ["CometMpm:QueueCapacity"] = "20",
            ["CometMpm:MaxBatchSize"] = "10",
            ["CometMpm:MaxRetryAttempts"] = "1",
            ["CometMpm:CircuitBreakerFailureThreshold"] = "1",
            ["CometMpm:CircuitBreakDuration"] = "00:00:05",
            ["CometMpm:FullQueueWaitTimeout"] = "00:00:00.050",
            ["CometMpm:EndTimeout"] = "00:00:01",
        });
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));
        var refused = 0;
        for (var i = 0; i < 60; i++)
        {
            if (!client.Mpm.LogEvent($"fq-{i}", Features(("i", i))).IsAccepted)
            {
                refused++;
            }
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 5);
        Assert.False(flushed);
        var ended = await TryWithin(client.Mpm.EndAsync(), 5);
        Assert.False(ended);

        var ledger = client.Client.Ledger;
        Assert.True(ledger.Unaccounted == 0 && ledger.Pending == 0, $"{ledger}");
        Assert.Equal(60 - refused, ledger.Accepted);
        if (policy == "DropOldest")
        {
            Assert.Equal(0, refused);
            Assert.True(ledger.Dropped.GetValueOrDefault(DropReason.QueueFull) > 0, $"{ledger}");
        }

        LedgerAssert.Balanced(client, refusedAtCall: refused);
    }

    // ------------------------------------------------------------------ end and flush called in odd ways

    [Fact]
    public async Task EndAsyncTwiceAndFlushConcurrently_AllAnswerTheSame_AndNothingIsLost()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        await using var client = await StartAsync(Settings(emulator.BaseUrl), settings: new Dictionary<string, string?> { ["CometMpm:EndTimeout"] = "00:00:05" });
        for (var i = 0; i < 50; i++)
        {
            client.Mpm.LogEvent($"e2-{i}", Features(("i", i)));
        }

        var flush = client.Mpm.FlushAsync();
        var end1 = client.Mpm.EndAsync();
        var end2 = client.Mpm.EndAsync(TimeSpan.FromMilliseconds(1));
        var flush2 = client.Mpm.FlushAsync(new CancellationTokenSource(TimeSpan.FromSeconds(8)).Token);
        var results = await Task.WhenAll(flush, end1, end2, flush2).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.All(results, r => Assert.True(r));
        Assert.Equal(LogStatus.Ended, client.Mpm.LogEvent("after-end").Status);
        Assert.True(await client.Mpm.FlushAsync().WaitAsync(TimeSpan.FromSeconds(2)));
        Assert.Equal(50, (await emulator.Client.GetModelsAsync()).Sum(m => m.Predictions));
        LedgerAssert.Balanced(client, refusedAtCall: 1);
    }

    [Fact]
    public async Task LogEventFromManyThreadsRacingEndAsync_EveryAcceptedEventIsDeliveredOnce_AndEndTellsTheTruth()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:EndTimeout"] = "00:00:05", ["CometMpm:MaxBatchSize"] = "50" });
        var accepted = new ConcurrentBag<string>();
        using var go = new ManualResetEventSlim();
        var loggers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            go.Wait();
            for (var i = 0; i < 5_000; i++)
            {
                var id = $"race-{t}-{i}";
                var result = client.Mpm.LogEvent(id, Features(("i", i)));
                if (result.IsAccepted)
                {
                    accepted.Add(id);
                }
                else if (result.Status == LogStatus.Ended)
                {
                    return;
                }
            }
        })).ToArray();
        go.Set();
        await Task.Delay(20);
        var ended = await client.Mpm.EndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await Task.WhenAll(loggers).WaitAsync(TimeSpan.FromSeconds(10));

        var posted = server.Batches.SelectMany(b => b.Events).Select(Id).ToList();
        Assert.True(ended, $"EndAsync returned false; {client.Client.Ledger}");
        Assert.Equal(accepted.Count, posted.Count);
        Assert.Equal(accepted.Order(StringComparer.Ordinal), posted.Order(StringComparer.Ordinal));
        var ledger = client.Client.Ledger;
        Assert.True(ledger.Unaccounted == 0 && ledger.Delivered == accepted.Count, $"{ledger}");
    }

    [Fact]
    public async Task FlushAsyncWithAnAlreadyCancelledToken_ReturnsAtOnce_FalseWhilePending_TrueWhenAllDelivered()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:MaxBatchTime"] = "00:00:30" });
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        Assert.True(await client.Mpm.FlushAsync(cancelled.Token).WaitAsync(TimeSpan.FromSeconds(2)), "nothing accepted yet");

        client.Mpm.LogEvent("cc-0", Features(("i", 0)));
        Assert.False(await client.Mpm.FlushAsync(cancelled.Token).WaitAsync(TimeSpan.FromSeconds(2)));
        Assert.True(await client.Mpm.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await client.Mpm.FlushAsync(cancelled.Token).WaitAsync(TimeSpan.FromSeconds(2)));
        LedgerAssert.Balanced(client);
    }

    // ------------------------------------------------------------------ nothing borrowed, nothing too large

    [Theory]
    [InlineData("{\"v\":{\"nested\":1}}")]
    [InlineData("{\"v\":[1,2,3]}")]
    public async Task JsonElementObjectOrArray_IsRefusedAtTheCall_AndNothingOfItIsSent(string json)
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        LogResult result;
        using (var doc = JsonDocument.Parse(json))
        {
            result = client.Mpm.LogEvent("je-0", new Dictionary<string, object?> { ["v"] = doc.RootElement.GetProperty("v") });
        }

        client.Mpm.LogEvent("je-1", Features(("i", 1)));
        Assert.True(await client.Mpm.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(LogStatus.InvalidInput, result.Status);
        Assert.Equal(new[] { "je-1" }, server.Batches.SelectMany(b => b.Events).Select(Id));
        LedgerAssert.Balanced(client, refusedAtCall: 1);
    }

    [Fact]
    public async Task SmallestMaxRequestBytes_BatchesAreSplitToFit_EverythingDeliveredOnce_TooLargeEventsRefusedAtTheCall()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:MaxRequestBytes"] = "1024", ["CometMpm:EndTimeout"] = "00:00:05" });
        var big = client.Mpm.LogEvent("big", Features(("blob", new string('x', 2000))));
        var bigLabel = client.Mpm.LogLabel("big", Features(("blob", new string('y', 2000))));
        for (var i = 0; i < 40; i++)
        {
            client.Mpm.LogEvent($"sm-{i}", Features(("s", new string('a', 100)), ("i", i)));
            client.Mpm.LogLabel($"sm-{i}", Features(("ok", true)));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 8);

        Assert.Equal(LogStatus.InvalidInput, big.Status);
        Assert.Equal(LogStatus.InvalidInput, bigLabel.Status);
        Assert.True(flushed, $"{client.Client.Ledger}");
        Assert.All(server.Batches, b => Assert.True(Encoding.UTF8.GetByteCount(b.Body) <= 1024, $"a body of {Encoding.UTF8.GetByteCount(b.Body)} bytes"));
        Assert.Equal(80, server.Batches.SelectMany(b => b.Events).Count());
        Assert.True(server.Batches.Count < 80, $"{server.Batches.Count} requests for 80 events");
        LedgerAssert.Balanced(client, refusedAtCall: 2);
    }

    // ------------------------------------------------------------------ the API key

    // The detail is cut to 1 KB before it is scrubbed: a key straddling the cut survives in part.
    [Fact]
    public async Task ServerEchoingTheKeyAcrossThe1KbCut_NoPartOfTheKeyIsLogged()
    {
        var padding = new string('x', 1024 - 18);
        await using var server = await HostileServer.StartAsync((context, request) =>
            HostileServer.IsPing(request)
                ? HostileServer.AlwaysOk(context, request)
                : HostileServer.JsonAsync(context, 500, padding + request.Headers["Authorization"] + "\"}"));
        await using var client = await StartAsync(Settings(server.BaseUrl), settings: FastFailure());
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));
        client.Mpm.LogEvent("k-0", Features(("i", 0)));
        Assert.NotNull(await TryWithin(client.Mpm.FlushAsync(), 8));

        var prefix = ApiKey[..16];
        var texts = client.Logs.GetSnapshot().Select(r => r.Message + " " + r.Exception)
            .Concat(client.Mpm.GetLoggingErrors(clear: false).Select(e => e.Message))
            .Where(t => t.Contains(prefix, StringComparison.Ordinal))
            .ToList();
        Assert.True(texts.Count == 0, $"{texts.Count} texts carry the first 16 of the key's {ApiKey.Length} characters, e.g. …{texts.FirstOrDefault()?[^40..]}");
    }

    // ------------------------------------------------------------------ the start-up check

    [Theory]
    [InlineData(404)]
    [InlineData(410)]
    public async Task UploadDatasetCsvAsync_PingAnsweredAnotherErrorStatus_IsRefused(int pingStatus)
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        server.PingStatus = pingStatus;
        await using var client = await StartAsync(server);
        var csv = Path.Combine(Directory.CreateDirectory(_outbox).FullName, "p.csv");
        File.WriteAllText(csv, "timestamp,predictionId,feature_amount\n1713006000001,up-1,12.5\n");

        var error = await Record.ExceptionAsync(() => client.Mpm.UploadDatasetCsvAsync(csv, DatasetType.Events).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.NotNull(error);
        Assert.IsNotType<TimeoutException>(error);
        Assert.DoesNotContain(server.Requests, r => r.Path.EndsWith("/csv", StringComparison.Ordinal));
        Assert.Equal(LogStatus.Disabled, client.Mpm.LogEvent("after").Status);
    }

    // ------------------------------------------------------------------ damaged outbox files

    [Fact]
    public async Task OutboxFileTruncatedMidJson_IsQuarantinedAndCounted_TheValidOneDelivered()
    {
        var ready = Directory.CreateDirectory(Path.Combine(_outbox, "ready")).FullName;
        var now = DateTimeOffset.UtcNow.UtcTicks;
        var full = EventsBody("tr", 4);
        File.WriteAllText(Path.Combine(ready, OutboxName(now - 2, 4)), full[..(full.Length / 2)]);
        File.WriteAllText(Path.Combine(ready, OutboxName(now - 1, 3)), EventsBody("ok", 3));

        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(OutboxSettings(server.BaseUrl), start: false);
        var before = client.Client.Ledger;
        await client.Host.StartAsync();

        await server.WaitForAsync(r => r.Any(x => x.Method == "POST" && x.Body.Contains("ok-2", StringComparison.Ordinal)), TimeSpan.FromSeconds(8));
        Assert.True(await WaitUntilAsync(() => client.Client.Ledger.InOutbox == 0, TimeSpan.FromSeconds(3)), $"{client.Client.Ledger}");
        var after = client.Client.Ledger;
        Assert.Equal(7, before.InOutbox);
        Assert.Equal(4, after.Dropped.GetValueOrDefault(DropReason.OutboxCorrupt));
        Assert.Equal(before.Unaccounted, after.Unaccounted);
        Assert.Single(Directory.GetFiles(Path.Combine(_outbox, "quarantine")));
        Assert.DoesNotContain(server.Batches.SelectMany(b => b.Events).Select(Id), id => id.StartsWith("tr-", StringComparison.Ordinal));
    }

    // The name says how many events a file holds; the ledger counts the outbox by the names. A file whose content
    // disagrees must not move the ledger by events that were never there (or hide events that were).
    [Theory]
    [InlineData(3, 5)]
    [InlineData(6, 2)]
    [InlineData(4, 0)]
    public async Task OutboxFileWhoseNameCountDisagreesWithItsContent_TheLedgerStaysBalanced(int named, int actual)
    {
        var ready = Directory.CreateDirectory(Path.Combine(_outbox, "ready")).FullName;
        File.WriteAllText(Path.Combine(ready, OutboxName(DateTimeOffset.UtcNow.UtcTicks - 1, named)), EventsBody("cm", actual));
        File.WriteAllText(Path.Combine(ready, OutboxName(DateTimeOffset.UtcNow.UtcTicks, 2)), EventsBody("good", 2));

        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(OutboxSettings(server.BaseUrl), start: false);
        var before = client.Client.Ledger;
        await client.Host.StartAsync();

        await server.WaitForAsync(r => r.Any(x => x.Method == "POST" && x.Body.Contains("good-1", StringComparison.Ordinal)), TimeSpan.FromSeconds(8));
        await WaitUntilAsync(() => client.Client.Ledger.InOutbox == 0, TimeSpan.FromSeconds(5));
        await Task.Delay(200);
        var after = client.Client.Ledger;
        Assert.Equal(named + 2, before.InOutbox);
        Assert.True(after.Unaccounted == before.Unaccounted, $"before: {before}; after: {after}");
    }

    [Fact]
    public async Task OddFilesInReady_AreSetAsideNotCounted_AndDoNotBlockReplay()
    {
        var ready = Directory.CreateDirectory(Path.Combine(_outbox, "ready")).FullName;
        var ticks = DateTimeOffset.UtcNow.UtcTicks;
        string[] odd =
        [
            "notes.txt",
            $"{ticks - 9:D19}-0000002-abc.EVENTS.JSON",
            $"{ticks - 8:D19}-0000002-abc-s1-x.events.json",
            $"{ticks - 7:D19}-+000002-abc.events.json",
            $"{ticks - 6:D19}-99999999999-abc.events.json",
            $"{ticks - 5:D19}-0000002-.events.json",
            ".events.json",
        ];
        foreach (var name in odd)
        {
            File.WriteAllText(Path.Combine(ready, name), EventsBody("odd", 2));
        }

        Directory.CreateDirectory(Path.Combine(ready, $"{ticks - 4:D19}-0000002-dir.events.json"));
        File.WriteAllText(Path.Combine(ready, OutboxName(ticks, 3)), EventsBody("fine", 3));

        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(OutboxSettings(server.BaseUrl), start: false);
        var before = client.Client.Ledger;
        await client.Host.StartAsync();

        await server.WaitForAsync(r => r.Any(x => x.Method == "POST" && x.Body.Contains("fine-2", StringComparison.Ordinal)), TimeSpan.FromSeconds(8));
        Assert.True(await WaitUntilAsync(() => client.Client.Ledger.InOutbox == 0, TimeSpan.FromSeconds(3)), $"{client.Client.Ledger}");
        var after = client.Client.Ledger;
        Assert.Equal(3, before.InOutbox);
        Assert.Equal(before.Unaccounted, after.Unaccounted); // 3 inherited, 3 delivered
        Assert.Equal(3, after.Delivered);
        Assert.DoesNotContain(server.Batches.SelectMany(b => b.Events).Select(Id), id => id.StartsWith("odd-", StringComparison.Ordinal));
        Assert.Equal(odd.Length, Directory.GetFiles(Path.Combine(_outbox, "quarantine")).Length);
    }

    // ------------------------------------------------------------------ helpers

    private Dictionary<string, string?> OutboxSettings(Uri server) => TestHelpers.OutboxSettings(server, _outbox);

    /// <summary>A host like <see cref="TestClient"/>'s, with extra services or logging (a handler in the HTTP client, a logging provider).</summary>
    private static async Task<IHost> StartHostAsync(Dictionary<string, string?> settings, Action<IServiceCollection>? services = null, Action<ILoggingBuilder>? logging = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.AddFakeLogging();
        logging?.Invoke(builder.Logging);
        builder.Services.AddCometMpm();
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static string Id(JsonElement e) => e.GetProperty("predictionId").GetString()!;

    /// <summary>Stops and disposes a host, bounded; a failure there (a dead loop faults the end) must not hide the test's own assertion.</summary>
    private sealed class HostStopper(IHost host) : IAsyncDisposable
    {
        public IHost Host => host;

        public async ValueTask DisposeAsync()
        {
            try
            {
                await host.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
                host.Dispose();
            }
            catch (Exception)
            {
                // reported by the assertions
            }
        }
    }

    /// <summary>Throws from the first <c>times</c> POSTs, as a buggy handler the app added to the HTTP client would.</summary>
    private sealed class ThrowCounter(int times)
    {
        private int _posts;

        public int Thrown => Math.Min(Volatile.Read(ref _posts), times);

        public bool ShouldThrow() => Interlocked.Increment(ref _posts) <= times;
    }

    private sealed class ThrowingHandler(ThrowCounter counter) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Post && counter.ShouldThrow())
            {
                throw new InvalidOperationException("the app's handler is broken");
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>A logging provider whose sink fails on warnings (a full disk, a closed pipe).</summary>
    private sealed class ThrowingLoggerProvider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new ThrowingLogger();

        public void Dispose()
        {
        }

        private sealed class ThrowingLogger : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel >= LogLevel.Warning)
                {
                    throw new IOException("No space left on device (the log sink)");
                }
            }
        }
    }
}
