using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using CometMpm.Emulator;
using CometMpm.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using static CometMpm.Tests.Infrastructure.TestClient;
using static CometMpm.Tests.Infrastructure.TestHelpers;

namespace CometMpm.Tests;

/// <summary>
/// The README's promises (nothing lost quietly, flush means delivered, the key is never leaked), each checked from the
/// user's side against a real local server that misbehaves: the emulator's fault injection, or a
/// <see cref="HostileServer"/>. Each test asserts what should happen once the failure it names is fixed; every await that
/// could hang is bounded, and a timeout is reported as the failure.
/// </summary>
public sealed class DeliveryPromiseTests : IDisposable
{
    private readonly string _outbox = Path.Combine(Path.GetTempPath(), "cometmpm-promise-" + Guid.NewGuid().ToString("N"));
    private readonly List<string> _cleanup = [];

    public void Dispose()
    {
        foreach (var path in _cleanup.Append(_outbox))
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else if (File.Exists(path))
            {
                File.Delete(path);
            }
        }
    }

    // 1. A borrowed JsonElement must not survive the call.
    [Fact]
    public async Task LogEvent_JsonElementOfADocumentDisposedAfterTheCall_IsCopiedOrRefusedAtTheCall_AndEverythingElseIsDelivered()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        await using var client = await StartAsync(Settings(emulator.BaseUrl), settings: new Dictionary<string, string?>
        {
            ["CometMpm:EndTimeout"] = "00:00:02",
        });

        LogResult borrowed;
        using (var doc = JsonDocument.Parse("{\"country\":\"FR\"}"))
        {
            borrowed = client.Mpm.LogEvent("p0", new Dictionary<string, object?> { ["country"] = doc.RootElement.GetProperty("country") });
        }

        for (var i = 1; i <= 100; i++)
        {
            Assert.True(client.Mpm.LogEvent($"p{i}", Features(("i", i))).IsAccepted);
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 10);
        var stored = await StoredEventsAsync(emulator);
        var ended = await TryWithin(client.Mpm.EndAsync(), 10);

        Assert.True(flushed is not null, $"FlushAsync did not return within 10 s (the backend stored {stored.Count} of 101 events; EndAsync then returned {ended?.ToString() ?? "nothing within 10 s"}).");
        Assert.Equal(Enumerable.Range(1, 100).Select(i => $"p{i}").Order(StringComparer.Ordinal), stored.Keys.Where(k => k != "p0").Order(StringComparer.Ordinal));
        if (borrowed.IsAccepted)
        {
            Assert.True(stored.TryGetValue("p0", out var p0), "p0 was accepted but never arrived.");
            Assert.Equal("FR", p0.Features!["country"].GetString());
        }
        else
        {
            Assert.Equal(LogStatus.InvalidInput, borrowed.Status);
            Assert.DoesNotContain("p0", stored.Keys);
        }

        Assert.True(flushed);
        Assert.True(ended, "EndAsync must tell the truth: everything accepted was delivered.");
        LedgerAssert.Balanced(client, refusedAtCall: borrowed.IsAccepted ? 0 : 1);
    }

    // 2. No host: the container's disposal must deliver or count what was logged.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ServiceProviderWithoutHost_Disposed_DeliversOrCountsEveryEventWithinTheEndTimeout(bool disposeAsync)
    {
        await using var emulator = await MpmEmulator.StartAsync();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddFakeLogging());
        services.AddCometMpm(o =>
        {
            o.ApiKey = ApiKey;
            o.WorkspaceName = "payments";
            o.ModelName = "fraud-detector";
            o.ModelVersion = "2.3.0";
            o.UrlOverride = emulator.BaseUrl;
            o.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
            o.EndTimeout = TimeSpan.FromSeconds(2);
        });
        var provider = services.BuildServiceProvider();
        using var dropped = new MetricCollector<long>(provider.GetRequiredService<IMeterFactory>(), "CometMpm", "cometmpm.events.dropped");
        var logs = provider.GetFakeLogCollector();
        var mpm = provider.GetRequiredService<ICometMpm>();
        for (var i = 0; i < 100; i++)
        {
            Assert.True(mpm.LogEvent($"n-{i}", Features(("i", i))).IsAccepted);
        }

        if (disposeAsync)
        {
            var disposed = await TryWithin(DisposeAsync(provider), 10);
            Assert.True(disposed is not null, "ServiceProvider.DisposeAsync did not return within 10 s.");
        }
        else
        {
            provider.Dispose();
        }

        // Within the end timeout (2 s) plus slack, every event is either stored or counted as dropped.
        long stored = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        do
        {
            stored = (await emulator.Client.GetModelsAsync()).Sum(m => m.Predictions);
            if (stored + dropped.Total() >= 100)
            {
                break;
            }

            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);

        var errors = string.Join(" | ", mpm.GetLoggingErrors(clear: false).Select(e => e.Message));
        Assert.True(
            stored + dropped.Total() == 100,
            $"After {(disposeAsync ? "DisposeAsync" : "Dispose")} of the provider: the backend stored {stored} of 100 events and {dropped.Total()} were counted as dropped; {100 - stored - dropped.Total()} vanished. The client's errors: [{errors}]; its warnings: [{string.Join(" | ", logs.GetSnapshot().Where(r => r.Level >= LogLevel.Warning).Select(r => $"{r.Message} {r.Exception?.GetType().Name} {r.Exception?.Message}"))}]");
    }

    // 3. One file the outbox did not write must not stop the replay.
    [Theory]
    [InlineData("{\"data\":[1,2,3]}")]
    [InlineData("this is not JSON at all")]
    public async Task OutboxReplay_UnexpectedFileSortingFirst_IsQuarantined_AndTheValidFileIsDelivered(string badBody)
    {
        await SpillAsync(5, "v");
        var ready = Path.Combine(_outbox, "ready");
        var valid = Assert.Single(Directory.GetFiles(ready, "*.json"));
        var ticks = long.Parse(Path.GetFileName(valid)[..19], CultureInfo.InvariantCulture);
        var guid = Guid.NewGuid().ToString("N");
        var badName = $"{ticks - 1:D19}-{3:D7}-{guid}.events.json"; // a valid-looking name, sorting first, not expired
        File.WriteAllText(Path.Combine(ready, badName), badBody);

        await using var emulator = await MpmEmulator.StartAsync();
        await using var client = await StartAsync(OutboxSettings(emulator.BaseUrl));

        var arrived = await WaitForIdsAsync(emulator, Enumerable.Range(0, 5).Select(i => $"v-{i}"), TimeSpan.FromSeconds(10));
        var answers = string.Join(", ", (await emulator.Client.GetRequestsAsync(limit: 100)).Where(r => r.Method == "POST").Select(r => $"{r.Status} ({r.BodySize} B)"));
        Assert.True(arrived.Missing.Count == 0, $"The valid outbox file was not replayed within 10 s: missing {string.Join(", ", arrived.Missing)}; the emulator answered the replay's POSTs with [{answers}]; errors logged so far: [{Faults(client)}].");

        Assert.Contains(OutboxFiles(), f => ReadOrNull(f) == badBody); // never deleted silently
        Assert.DoesNotContain(Directory.GetFiles(ready, "*.json"), f => ReadOrNull(f) == badBody); // moved aside, not replayed again
        Assert.Contains(client.Logs.GetSnapshot(), r => r.Level >= LogLevel.Warning && r.Message.Contains(guid, StringComparison.Ordinal));
    }

    // 4. A file whose request always fails must not hold up newer files.
    [Fact]
    public async Task OutboxReplay_PoisonFileThatAlwaysFails_DoesNotHoldUpNewerFiles_AndItsGoodEventsAreDelivered()
    {
        const string Marker = "POISON-7f3a";
        string[] poisonBatch = ["pz-0", "pz-1", $"pz-{Marker}", "pz-3"];
        var good = Enumerable.Range(0, 20).Select(i => $"g-{i}").ToArray();
        var dead = new Uri($"http://127.0.0.1:{StartupPingTests.DeadPort()}/");
        await using (var writer = await StartAsync(OutboxSettings(dead)))
        {
            foreach (var id in poisonBatch)
            {
                writer.Mpm.LogEvent(id, Features(("i", 1)));
            }

            await TryWithin(writer.Mpm.FlushAsync(), 10); // the oldest file: the poison batch
            foreach (var id in good)
            {
                writer.Mpm.LogEvent(id, Features(("i", 2)));
            }

            await TryWithin(writer.Mpm.EndAsync(TimeSpan.FromSeconds(5)), 10);
        }

        var files = Directory.GetFiles(Path.Combine(_outbox, "ready"), "*.json").Order(StringComparer.Ordinal).ToList();
        Assert.True(files.Count >= 2, $"setup: expected several outbox files, got {files.Count}");
        Assert.Contains(Marker, File.ReadAllText(files[0]), StringComparison.Ordinal);
        Assert.Equal(24, LedgerAssert.EventsInOutbox(_outbox));

        await using var server = await HostileServer.StartAsync(HostileServer.ResetOnMarker(Marker));
        await using var client = await StartAsync(OutboxSettings(server.BaseUrl));
        string[] expected = [.. good, "pz-0", "pz-1", "pz-3"];
        var delivered = await server.WaitForAsync(a => expected.All(DeliveredIds(a).Contains), TimeSpan.FromSeconds(12));
        var got = DeliveredIds(server.Answered);

        Assert.True(delivered, $"Within 12 s the server got {good.Count(got.Contains)} of the 20 events of the newer files and {new[] { "pz-0", "pz-1", "pz-3" }.Count(got.Contains)} of the 3 good events of the poison file; {server.Answered.Count(a => a.Status == 0)} requests were reset (the poison file was tried again and again).");
        Assert.DoesNotContain($"pz-{Marker}", got);
        Assert.True(await WaitUntilAsync(() => client.Dropped.Total() == 1, TimeSpan.FromSeconds(3)), $"The poison event must be counted as dropped once; dropped = {client.Dropped.Total()}.");
        LedgerAssert.Balanced(client, _outbox, inheritedFromOutbox: 24);
    }

    // 5. A redirect or a proxy's HTML page is not a delivery.
    [Theory]
    [InlineData(302)]
    [InlineData(307)]
    public async Task RedirectFromTheMpmServer_IsNotCountedAsDelivered_AndTheStrangerGetsNoEvents(int status)
    {
        await using var stranger = await HostileServer.StartAsync(HostileServer.AlwaysOk);
        var location = new Uri(stranger.BaseUrl, "login");
        await using var server = await HostileServer.StartAsync(HostileServer.Redirect(status, location));
        await using var client = await StartAsync(Settings(server.BaseUrl), settings: FastFailure());
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));

        for (var i = 0; i < 10; i++)
        {
            client.Mpm.LogEvent($"rd-{i}", Features(("i", i)));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 10);

        Assert.True(client.Sent.Total() == 0, $"{client.Sent.Total()} events counted as sent after HTTP {status} to {location} (the stranger got: {string.Join(", ", stranger.Requests.Select(r => r.Method + " " + r.Path))}).");
        Assert.True(flushed is false, $"FlushAsync returned {flushed?.ToString() ?? "nothing within 10 s"}; expected false.");
        Assert.DoesNotContain(stranger.Requests, r => r.Body.Contains("rd-0", StringComparison.Ordinal));
        var texts = client.Logs.GetSnapshot().Select(r => r.Message).Concat(client.Mpm.GetLoggingErrors(clear: false).Select(e => e.Message)).ToList();
        Assert.Contains(texts, t => t.Contains(location.ToString(), StringComparison.Ordinal));
        LedgerAssert.Balanced(client);
    }

    [Fact]
    public async Task Html200FromAProxy_IsNotCountedAsDelivered()
    {
        await using var server = await HostileServer.StartAsync(HostileServer.HtmlLoginPage);
        await using var client = await StartAsync(Settings(server.BaseUrl), settings: FastFailure());
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));

        for (var i = 0; i < 10; i++)
        {
            client.Mpm.LogEvent($"html-{i}", Features(("i", i)));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 10);

        Assert.True(client.Sent.Total() == 0, $"{client.Sent.Total()} events counted as sent after a 200 text/html <html>login</html>.");
        Assert.True(flushed is false, $"FlushAsync returned {flushed?.ToString() ?? "nothing within 10 s"}; expected false.");
        LedgerAssert.Balanced(client);
    }

    // 6. An event that can never fit in a request is refused at the call.
    [Fact]
    public async Task LogEvent_LargerThanMaxRequestBytes_IsRefusedAtTheCall_AndTheSmallOnesAreDelivered()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        await using var client = await StartAsync(Settings(emulator.BaseUrl), settings: new Dictionary<string, string?> { ["CometMpm:MaxRequestBytes"] = "4096" });
        var results = new List<LogResult>();
        for (var i = 0; i < 10; i++)
        {
            results.Add(client.Mpm.LogEvent($"s-{i}", Features(("i", i))));
        }

        var big = client.Mpm.LogEvent("big", Features(("blob", new string('x', 10_000))));
        for (var i = 10; i < 20; i++)
        {
            results.Add(client.Mpm.LogEvent($"s-{i}", Features(("i", i))));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 10);

        Assert.All(results, r => Assert.True(r.IsAccepted));
        Assert.False(big.IsAccepted, "An event of ~10 KB with MaxRequestBytes 4096 can never be sent; it must be refused at the call.");
        Assert.Contains("MaxRequestBytes", big.Message, StringComparison.Ordinal);
        Assert.True(flushed is true, $"FlushAsync returned {flushed?.ToString() ?? "nothing within 10 s"}.");
        var stored = await StoredEventsAsync(emulator);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"s-{i}").Order(StringComparer.Ordinal), stored.Keys.Order(StringComparer.Ordinal));
        LedgerAssert.Balanced(client, refusedAtCall: 1);
    }

    // 7. A backend that refuses everything: bounded requests, rate-limited warnings.
    [Fact]
    public async Task BackendAnswering400ToEveryPost_1000Events_BoundedRequestsAndFewWarnings()
    {
        await using var server = await HostileServer.StartAsync(HostileServer.RefuseEveryPost(400));
        await using var client = await StartAsync(Settings(server.BaseUrl), settings: new Dictionary<string, string?>
        {
            ["CometMpm:MaxBatchSize"] = "1000",
            ["CometMpm:EndTimeout"] = "00:00:02",
        });
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));

        for (var i = 0; i < 1000; i++)
        {
            client.Mpm.LogEvent($"bad-{i}", Features(("i", i)));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 30);

        var posts = server.Posts.Count;
        var warnings = client.Logs.GetSnapshot().Count(r => r.Level >= LogLevel.Warning);
        Assert.True(flushed is false, $"FlushAsync returned {flushed?.ToString() ?? "nothing within 30 s"}; expected false.");
        Assert.True(posts <= 50, $"{posts} POSTs for 1000 events that a backend refuses wholesale (at most 50 expected).");
        Assert.True(warnings <= 5, $"{warnings} warnings logged for one refusing backend (at most 5 expected, rate-limited).");
        LedgerAssert.Balanced(client);
    }

    // 8. FlushAsync without a token is bounded.
    [Theory]
    [InlineData("connection refused")]
    [InlineData("accepts and never answers")]
    public async Task FlushAsync_WithoutATokenWhileTheBackendIsDown_ReturnsFalseWithinTheEndTimeout(string backend)
    {
        using var silent = new SilentTcpServer();
        var url = backend == "connection refused" ? new Uri($"http://127.0.0.1:{StartupPingTests.DeadPort()}/") : silent.BaseUrl;
        await using var client = await StartAsync(Settings(url), settings: new Dictionary<string, string?>
        {
            ["CometMpm:EndTimeout"] = "00:00:02",
            ["CometMpm:PingTimeout"] = "00:00:01",
            ["CometMpm:MaxBatchSize"] = "10",
        });

        for (var i = 0; i < 50; i++)
        {
            client.Mpm.LogEvent($"down-{i}", Features(("i", i)));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 10);

        Assert.True(flushed is not null, $"FlushAsync() did not return within 10 s (EndTimeout 2 s) while the backend {backend}.");
        Assert.False(flushed);
        Assert.True(await TryWithin(client.Mpm.EndAsync(), 10) is not null, "EndAsync did not return within 10 s.");
        LedgerAssert.Balanced(client);
    }

    // 9. An outbox directory that cannot be created.
    [Fact]
    public async Task OutboxDirectoryUnderAFile_StartAndResolveSucceed_EventsAreDelivered_AndHealthNamesTheDirectory()
    {
        var directory = OutboxUnderAFile();
        await using var emulator = await MpmEmulator.StartAsync();
        var settings = Settings(emulator.BaseUrl);
        settings["CometMpm:Outbox:Directory"] = directory;
        await using var client = await StartAsync(settings, start: false);

        var startError = await Record.ExceptionAsync(() => client.Host.StartAsync().WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.True(startError is null, $"Host start failed: {startError?.GetType().Name}: {startError?.Message}");
        var resolveError = Record.Exception(() => client.Mpm);
        Assert.True(resolveError is null, $"Resolving ICometMpm threw {resolveError?.GetType().Name}: {resolveError?.Message}");

        for (var i = 0; i < 10; i++)
        {
            client.Mpm.LogEvent($"nd-{i}", Features(("i", i)));
        }

        Assert.True(await TryWithin(client.Mpm.FlushAsync(), 10) is true);
        Assert.Equal(10, (await StoredEventsAsync(emulator)).Count);
        var health = await client.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        Assert.Contains(directory, health.Entries["cometmpm"].Description, StringComparison.Ordinal);
        LedgerAssert.Balanced(client);
    }

    [Fact]
    public async Task OutboxDirectoryUnderAFile_WithRaiseOnErrorDuringInit_StartFailsNamingTheSetting()
    {
        var directory = OutboxUnderAFile();
        await using var emulator = await MpmEmulator.StartAsync();
        var settings = Settings(emulator.BaseUrl);
        settings["CometMpm:Outbox:Directory"] = directory;
        settings["CometMpm:RaiseOnErrorDuringInit"] = "true";
        await using var client = await StartAsync(settings, start: false);

        var error = await Record.ExceptionAsync(() => client.Host.StartAsync().WaitAsync(TimeSpan.FromSeconds(15)));

        Assert.NotNull(error);
        Assert.IsNotType<TimeoutException>(error);
        var messages = Messages(error);
        Assert.True(messages.Contains("CometMpm:Outbox:Directory", StringComparison.Ordinal), $"The start failure does not name CometMpm:Outbox:Directory: {error.GetType().Name}: {messages}");
    }

    // 10. A server that echoes the key must not make us log it.
    [Theory]
    [InlineData(500)]
    [InlineData(400)]
    public async Task ServerEchoingTheAuthorizationHeaderInItsErrorBody_TheKeyAppearsInNoLogAndNoError(int status)
    {
        await using var server = await HostileServer.StartAsync(HostileServer.EchoAuthorization(status));
        await using var client = await StartAsync(Settings(server.BaseUrl), settings: FastFailure());
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));

        for (var i = 0; i < 3; i++)
        {
            client.Mpm.LogEvent($"echo-{i}", Features(("i", i)));
        }

        var flushed = await TryWithin(client.Mpm.FlushAsync(), 10);
        Assert.NotNull(flushed);
        Assert.Contains(server.Posts, r => r.Headers.TryGetValue("Authorization", out var k) && k == ApiKey); // the echo did happen

        var records = client.Logs.GetSnapshot();
        var leaked = records
            .Select(r => (Where: $"log [{r.Level}] {r.Id.Name}", Text: r.Message + " " + r.Exception + " " + string.Join(";", r.StructuredState?.Select(s => s.Key + "=" + s.Value) ?? [])))
            .Concat(client.Mpm.GetLoggingErrors(clear: false).Select(e => (Where: "GetLoggingErrors", Text: e.Message)))
            .Where(t => t.Text.Contains(ApiKey, StringComparison.Ordinal))
            .ToList();
        Assert.True(leaked.Count == 0, $"The API key appears in {leaked.Count} places, e.g. {leaked.FirstOrDefault().Where}: {leaked.FirstOrDefault().Text}");
        LedgerAssert.Balanced(client);
    }

    // 11. Dataset upload: the start-up check applies, and the local path stays local.
    [Fact]
    public async Task UploadDatasetCsvAsync_ClientDisabledByTheStartupPing_IsRefusedAndSendsNothing()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        server.PingStatus = 500;
        await using var client = await StartAsync(server);
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(LogStatus.Disabled, client.Mpm.LogEvent("probe").Status); // setup: the ping disabled the client

        var (result, error) = await UploadAsync(client, WriteCsv());

        Assert.True(error is not null || result is { Uploaded: false }, $"The upload went ahead on a client disabled by the start-up check: {result?.Message}");
        Assert.DoesNotContain(server.Requests, r => r.Path.EndsWith("/csv", StringComparison.Ordinal));
        if (error is not null)
        {
            Assert.IsNotType<TimeoutException>(error);
            Assert.Matches("(?i)disabled|health check|ping", error.Message);
        }
    }

    [Fact]
    public async Task UploadDatasetCsvAsync_RightAtStartWithASlowFailingPing_WaitsForThePing_AndIsRefused()
    {
        await using var server = await HostileServer.StartAsync(HostileServer.SlowPing(TimeSpan.FromSeconds(2), 500));
        await using var client = await StartAsync(Settings(server.BaseUrl));

        var (result, error) = await UploadAsync(client, WriteCsv());
        await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));

        var uploads = server.Requests.Where(r => r.Path.EndsWith("/csv", StringComparison.Ordinal)).ToList();
        Assert.True(uploads.Count == 0, $"The upload was sent before the start-up ping answered (500); result: {result?.Message ?? error?.Message}");
        Assert.True(error is not null || result is { Uploaded: false }, $"The upload was not refused: {result?.Message}");
        Assert.IsNotType<TimeoutException>(error);
    }

    [Fact]
    public async Task UploadDatasetCsvAsync_MultipartFileName_IsTheFileNameNotTheLocalPath()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        var file = WriteCsv();

        var (_, error) = await UploadAsync(client, file);

        Assert.Null(error);
        var upload = Assert.Single(server.Requests, r => r.Path.EndsWith("/csv", StringComparison.Ordinal));
        var match = Regex.Match(upload.Body, "filename=\"?(?<name>[^\";\r\n]*)\"?");
        Assert.True(match.Success, "no filename in the multipart body");
        Assert.Equal(Path.GetFileName(file), match.Groups["name"].Value);
        Assert.DoesNotContain(Path.GetDirectoryName(file)!, upload.Body, StringComparison.Ordinal);
    }

    // 12. Two replicas replaying one directory: every id POSTed exactly once.
    [Fact]
    public async Task TwoClientsSharingTheDirectory_EveryPredictionIdIsPostedExactlyOnce()
    {
        var down = new Dictionary<string, string?>(Settings(new Uri($"http://127.0.0.1:{StartupPingTests.DeadPort()}/")))
        {
            ["CometMpm:Outbox:Directory"] = _outbox,
            ["CometMpm:MaxRetryAttempts"] = "0",
            ["CometMpm:PingTimeout"] = "00:00:00.500",
            ["CometMpm:MaxBatchSize"] = "10",
        };
        await using (var a = await StartAsync(down))
        await using (var b = await StartAsync(down))
        {
            for (var i = 0; i < 300; i++)
            {
                a.Mpm.LogEvent($"a-{i}");
                b.Mpm.LogEvent($"b-{i}");
            }

            await TryWithin(BothAsync(a.Mpm.EndAsync(TimeSpan.FromSeconds(5)), b.Mpm.EndAsync(TimeSpan.FromSeconds(5))), 15);
        }

        Assert.Equal(600, LedgerAssert.EventsInOutbox(_outbox));
        var expected = Enumerable.Range(0, 300).SelectMany(i => new[] { $"a-{i}", $"b-{i}" }).ToHashSet();
        await using var server = await ScriptedMpmServer.StartAsync();
        var up = new Dictionary<string, string?>(Settings(server.BaseUrl)) { ["CometMpm:Outbox:Directory"] = _outbox };
        long sentByBoth;
        await using (var c = await StartAsync(up))
        await using (var d = await StartAsync(up))
        {
            await server.WaitForAsync(r => r.Where(x => x.Method == "POST").SelectMany(x => x.Events).Select(Id).Distinct().Count() >= 600, TimeSpan.FromSeconds(30)).ContinueWith(_ => { }, TaskScheduler.Default);
            await WaitUntilAsync(() => LedgerAssert.EventsInOutbox(_outbox) == 0, TimeSpan.FromSeconds(5));
            await TryWithin(BothAsync(c.Mpm.EndAsync(TimeSpan.FromSeconds(2)), d.Mpm.EndAsync(TimeSpan.FromSeconds(2))), 10);
            sentByBoth = c.Sent.Total() + d.Sent.Total();
        }

        var posted = server.Batches.SelectMany(b => b.Events).Select(Id).ToList();
        var twice = posted.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => $"{g.Key} x{g.Count()}").ToList();
        Assert.True(twice.Count == 0, $"{twice.Count} prediction ids were POSTed more than once, e.g. {string.Join(", ", twice.Take(10))}.");
        var missing = expected.Except(posted).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of 600 ids never arrived, e.g. {string.Join(", ", missing.Take(10))}.");
        Assert.Equal(600, sentByBoth);
        Assert.Equal(0, LedgerAssert.EventsInOutbox(_outbox));
    }

    // ---- helpers ----
    private static async Task<bool> BothAsync(Task<bool> first, Task<bool> second) => (await Task.WhenAll(first, second)).All(x => x);

    private static async Task<bool> DisposeAsync(IAsyncDisposable disposable)
    {
        await disposable.DisposeAsync();
        return true;
    }

    private Dictionary<string, string?> OutboxSettings(Uri server) => TestHelpers.OutboxSettings(server, _outbox);

    /// <summary>A previous client, against a dead port, leaves <paramref name="count"/> events in the outbox.</summary>
    private async Task SpillAsync(int count, string prefix)
    {
        var dead = new Uri($"http://127.0.0.1:{StartupPingTests.DeadPort()}/");
        await using var writer = await StartAsync(OutboxSettings(dead), settings: new Dictionary<string, string?> { ["CometMpm:MaxBatchSize"] = "1000" });
        for (var i = 0; i < count; i++)
        {
            writer.Mpm.LogEvent($"{prefix}-{i}", Features(("i", i)));
        }

        await TryWithin(writer.Mpm.EndAsync(TimeSpan.FromSeconds(5)), 10);
        Assert.Equal(count, LedgerAssert.EventsInOutbox(_outbox));
    }

    private IEnumerable<string> OutboxFiles() =>
        Directory.GetFiles(_outbox, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".lock", StringComparison.Ordinal));

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null; // moved meanwhile
        }
    }

    private string OutboxUnderAFile()
    {
        var file = Path.Combine(Path.GetTempPath(), "cometmpm-x-file-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(file, "a regular file, not a directory");
        _cleanup.Add(file);
        return Path.Combine(file, "outbox");
    }

    private string WriteCsv()
    {
        var folder = Path.Combine(Path.GetTempPath(), "cometmpm-upload-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        _cleanup.Add(folder);
        var file = Path.Combine(folder, "predictions.csv");
        File.WriteAllText(file, "timestamp,predictionId,feature_amount\n1713006000001,up-1,12.5\n1713006000002,up-2,7.25\n");
        return file;
    }

    private static async Task<(DatasetUploadResult? Result, Exception? Error)> UploadAsync(TestClient client, string file)
    {
        try
        {
            return (await client.Mpm.UploadDatasetCsvAsync(file, DatasetType.Events).WaitAsync(TimeSpan.FromSeconds(10)), null);
        }
        catch (Exception ex)
        {
            return (null, ex);
        }
    }

    private static string Messages(Exception error)
    {
        var messages = new List<string>();
        for (var e = error; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
            if (e is AggregateException aggregate)
            {
                messages.AddRange(aggregate.InnerExceptions.Select(Messages));
            }
        }

        return string.Join(" | ", messages);
    }

    private static string Faults(TestClient client) =>
        string.Join(" | ", client.Logs.GetSnapshot().Where(r => r.Level >= LogLevel.Error).Select(r => $"{r.Message} {r.Exception?.GetType().Name}: {r.Exception?.Message}"));

    private static string Id(JsonElement e) => e.GetProperty("predictionId").GetString()!;

    private static HashSet<string> DeliveredIds(IEnumerable<AnsweredRequest> answered) =>
        answered.Where(a => a.Request.Method == "POST" && a.Status is >= 200 and < 300)
            .SelectMany(a => a.Request.Events)
            .Select(e => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("predictionId", out var id) ? id.ToString() : "?")
            .ToHashSet();

    private static async Task<Dictionary<string, EmulatorStoredEvent>> StoredEventsAsync(MpmEmulator emulator)
    {
        var events = new Dictionary<string, EmulatorStoredEvent>(StringComparer.Ordinal);
        long? after = null;
        while (true)
        {
            var page = await emulator.Client.GetEventsAsync(limit: 10_000, after: after);
            foreach (var e in page.Events)
            {
                events[e.PredictionId.ToString()] = e;
            }

            if (!page.HasMore)
            {
                return events;
            }

            after = page.NextCursor;
        }
    }

    private static async Task<(IReadOnlyCollection<string> Missing, int Stored)> WaitForIdsAsync(MpmEmulator emulator, IEnumerable<string> ids, TimeSpan timeout)
    {
        var wanted = ids.ToList();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var stored = await StoredEventsAsync(emulator);
            var missing = wanted.Where(id => !stored.ContainsKey(id)).ToList();
            if (missing.Count == 0 || DateTime.UtcNow >= deadline)
            {
                return (missing, stored.Count);
            }

            await Task.Delay(100);
        }
    }
}
