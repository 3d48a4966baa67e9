using System.Diagnostics;
using System.Net;
using static CometMpm.Emulator.Tests.TestSupport;

namespace CometMpm.Emulator.Tests;

public sealed class FaultTests
{
    [Fact]
    public async Task NextRequests_RetryAfterSeconds_AnswersStatusThenRecovers()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { NextRequests = new EmulatorNextRequestsFault(2, 503, "3") });

        var (first, body) = await PostAsync(http, "v2/events/batch", Batch(Event("\"a\"")));
        var (second, _) = await PostAsync(http, "v2/events/batch", Batch(Event("\"a\"")));
        var (third, _) = await PostAsync(http, "v2/events/batch", Batch(Event("\"a\"")));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), first.Headers.RetryAfter?.Delta);
        Assert.Equal(503, body.GetProperty("code").GetInt32());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        var state = await emulator.Client.GetFaultsAsync();
        Assert.Equal(2, state.Applied.NextRequests);
        Assert.Equal(0, state.RemainingNextRequests);
        Assert.Single((await emulator.Client.GetEventsAsync()).Events);
    }

    [Fact]
    public async Task NextRequests_RetryAfterHttpDate_SentVerbatim()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        const string Date = "Wed, 21 Oct 2015 07:28:00 GMT";
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { NextRequests = new EmulatorNextRequestsFault(1, 429, Date) });

        using var response = await http.GetAsync("isAlive/ping");

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(Date, string.Join(",", response.Headers.GetValues("Retry-After")));
        Assert.Equal(new DateTimeOffset(2015, 10, 21, 7, 28, 0, TimeSpan.Zero), response.Headers.RetryAfter?.Date);
    }

    [Fact]
    public async Task NextRequests_InspectionApi_IsNeverFaulted()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { NextRequests = new EmulatorNextRequestsFault(1, 500) });

        var models = await emulator.Client.GetModelsAsync();
        var events = await emulator.Client.GetEventsAsync();

        Assert.Empty(models);
        Assert.Empty(events.Events);
        Assert.Equal(1, (await emulator.Client.GetFaultsAsync()).RemainingNextRequests);
    }

    [Fact]
    public async Task Latency_Set_DelaysIngestionOnly()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { LatencyMs = 300 });

        var slow = Stopwatch.StartNew();
        var (response, _) = await PostAsync(http, "v2/events/batch", Batch(Event("\"a\"")));
        slow.Stop();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(slow.ElapsedMilliseconds >= 280, $"took {slow.ElapsedMilliseconds} ms");
        Assert.Equal(1, (await emulator.Client.GetFaultsAsync()).Applied.Latency);
    }

    [Fact]
    public async Task DropConnection_ProbabilityOne_AbortsAndCounts()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { DropConnectionProbability = 1 });

        await Assert.ThrowsAsync<HttpRequestException>(() => http.PostAsync("v2/events/batch", Json(Batch(Event("\"a\"")))));

        var state = await emulator.Client.GetFaultsAsync();
        Assert.Equal(1, state.Applied.DroppedConnections);
        Assert.Empty((await emulator.Client.GetEventsAsync()).Events);
        var request = Assert.Single(await emulator.Client.GetRequestsAsync());
        Assert.Equal((0, "dropConnection"), (request.Status, request.Fault));
    }

    [Fact]
    public async Task Outage_NowInsideWindow_AnswersStatusUntilCleared()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        var now = DateTimeOffset.UtcNow;
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { Outage = new EmulatorOutageFault(now.AddMinutes(-1), now.AddMinutes(1), 502, "1") });

        var (during, _) = await PostAsync(http, "v2/events/batch", Batch(Event("\"a\"")));
        var applied = (await emulator.Client.GetFaultsAsync()).Applied.Outage;
        await emulator.Client.ClearFaultsAsync();
        var (after, _) = await PostAsync(http, "v2/events/batch", Batch(Event("\"a\"")));

        Assert.Equal(HttpStatusCode.BadGateway, during.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), during.Headers.RetryAfter?.Delta);
        Assert.Equal(1, applied);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Outage_WindowInThePast_DoesNothing()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        var now = DateTimeOffset.UtcNow;
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { Outage = new EmulatorOutageFault(now.AddHours(-2), now.AddHours(-1)) });

        var (response, _) = await PostAsync(http, "v2/events/batch", Batch(Event("\"a\"")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task RejectPredictionIds_PoisonEventInBatch_Answers400NamingIt()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { RejectPredictionIds = ["bad-1"] });

        var (response, body) = await PostAsync(http, "v2/events/batch", Batch(Event("\"ok-0\""), Event("\"bad-1\""), Event("\"ok-2\"")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = Assert.Single(body.GetProperty("errors").EnumerateArray());
        Assert.Equal((1, "bad-1", "predictionId"),
            (error.GetProperty("index").GetInt32(), error.GetProperty("predictionId").GetString(), error.GetProperty("field").GetString()));
        Assert.Equal(["ok-0", "ok-2"], (await emulator.Client.GetEventsAsync()).Events.Select(e => e.PredictionId.GetString()));
        Assert.Equal(1, (await emulator.Client.GetFaultsAsync()).Applied.RejectedPredictionIds);
    }

    [Fact]
    public async Task SetFaults_InvalidPlan_Returns400()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = new HttpClient { BaseAddress = emulator.BaseUrl };

        var (response, body) = await PostAsync(http, "api/emulator/faults", """{"dropConnectionProbability":2}""");
        var (malformed, _) = await PostAsync(http, "api/emulator/faults", """{"latencyMs":""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("dropConnectionProbability", body.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }
}
