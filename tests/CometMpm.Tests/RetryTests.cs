using CometMpm.Tests.Infrastructure;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

public sealed class RetryTests
{
    [Fact]
    public async Task Status503Twice_ThenOk_DeliversTheBatchOnce()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        using var retried = client.Collect("cometmpm.requests.retried");
        using var sent = client.Collect("cometmpm.events.sent");
        server.Enqueue(new ScriptedResponse(503), new ScriptedResponse(503));

        client.Mpm.LogEvent("p1", Features(("a", 1)));
        Assert.True(await client.Mpm.FlushAsync());
        LedgerAssert.Balanced(client);

        var batches = server.Batches;
        Assert.Equal(3, batches.Count);
        Assert.All(batches, b => Assert.Equal(batches[0].Body, b.Body));
        Assert.Equal(2, retried.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(1, sent.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Theory]
    [InlineData(408)]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(504)]
    public async Task TransientStatus_IsRetried(int status)
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        server.Enqueue(new ScriptedResponse(status));

        client.Mpm.LogEvent("p1");
        Assert.True(await client.Mpm.FlushAsync());
        LedgerAssert.Balanced(client);
        Assert.Equal(2, server.Batches.Count);
    }

    [Fact]
    public async Task Status429WithRetryAfter2_WaitsTwoSeconds()
    {
        var time = new ObservableTimeProvider();
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, timeProvider: time);
        await client.Client.HealthChecked;
        server.Enqueue(new ScriptedResponse(429, RetryAfter: "2"));

        client.Mpm.LogEvent("p1");
        var flushed = client.Mpm.FlushAsync();
        await server.WaitForBatchesAsync(1);
        await time.WaitForTimerAsync(TimeSpan.FromSeconds(2));

        time.Advance(TimeSpan.FromSeconds(1.9));
        await Task.Delay(200); // a negative check: an early retry would show up here
        Assert.Single(server.Batches);

        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(await flushed.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, server.Batches.Count);
    }

    [Fact]
    public async Task Status503WithHttpDateRetryAfter_WaitsUntilThatDate()
    {
        var time = new ObservableTimeProvider();
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, timeProvider: time);
        await client.Client.HealthChecked;
        server.Enqueue(new ScriptedResponse(503, RetryAfter: time.GetUtcNow().AddSeconds(3).ToString("R")));

        client.Mpm.LogEvent("p1");
        var flushed = client.Mpm.FlushAsync();
        await server.WaitForBatchesAsync(1);
        await time.WaitForTimerAsync(TimeSpan.FromSeconds(3));
        time.Advance(TimeSpan.FromSeconds(3));

        Assert.True(await flushed.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, server.Batches.Count);
    }

    [Fact]
    public async Task Status400_IsNotRetried_AndIsCountedAsInvalid()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        using var dropped = client.Collect("cometmpm.events.dropped");
        server.Enqueue(new ScriptedResponse(400, Body: """{"code":400,"message":"bad feature"}"""));

        client.Mpm.LogEvent("p1");
        Assert.False(await client.Mpm.FlushAsync());
        LedgerAssert.Balanced(client);

        Assert.Single(server.Batches);
        var drop = Assert.Single(dropped.GetMeasurementSnapshot());
        Assert.Equal(1, drop.Value);
        Assert.Equal("invalid", drop.Tags["error.type"]);
        Assert.True(client.Mpm.HasLoggingError);
        var error = Assert.Single(client.Mpm.GetLoggingErrors());
        Assert.Equal(1, error.AffectedEventCount);
        Assert.Equal(["p1"], error.AffectedPredictionIds);
        Assert.Contains("bad feature", error.Message, StringComparison.Ordinal);
        Assert.False(client.Mpm.HasLoggingError);
        Assert.Contains(client.Logs.GetSnapshot(), r => r.Message.Contains("bad feature", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Status400OnABatch_IsSplitUntilTheRefusedEventIsIsolated()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        using var dropped = client.Collect("cometmpm.events.dropped");
        using var sent = client.Collect("cometmpm.events.sent");

        // [p0..p3] → 400; [p0,p1] → 400; [p0] → 200; [p1] → 400 (isolated); [p2,p3] → 200.
        server.Enqueue(new ScriptedResponse(400), new ScriptedResponse(400), new ScriptedResponse(200), new ScriptedResponse(400, Body: "p1 is bad"));
        for (var i = 0; i < 4; i++)
        {
            client.Mpm.LogEvent($"p{i}");
        }

        Assert.False(await client.Mpm.FlushAsync());
        LedgerAssert.Balanced(client);

        Assert.Equal([4, 2, 1, 1, 2], server.Batches.Select(b => b.Events.Count));
        Assert.Equal(3, sent.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal("invalid", Assert.Single(dropped.GetMeasurementSnapshot()).Tags["error.type"]);
        Assert.Equal(["p1"], Assert.Single(client.Mpm.GetLoggingErrors()).AffectedPredictionIds);
    }

    [Fact]
    public async Task Status401_IsNotRetried_AndIsCountedAsUnauthorized()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        using var dropped = client.Collect("cometmpm.events.dropped");
        server.Enqueue(new ScriptedResponse(401));

        client.Mpm.LogEvent("p1");
        Assert.False(await client.Mpm.FlushAsync());
        LedgerAssert.Balanced(client);

        Assert.Single(server.Batches);
        Assert.Equal("unauthorized", Assert.Single(dropped.GetMeasurementSnapshot()).Tags["error.type"]);
    }

    [Fact]
    public async Task PersistentFailure_GivesUpAfterMaxRetries_AndCountsSendFailed()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:MaxRetryAttempts"] = "2" });
        using var dropped = client.Collect("cometmpm.events.dropped");
        server.Enqueue(new ScriptedResponse(500), new ScriptedResponse(500), new ScriptedResponse(500));

        client.Mpm.LogEvent("p1");
        Assert.False(await client.Mpm.FlushAsync());
        LedgerAssert.Balanced(client);

        Assert.Equal(3, server.Batches.Count);
        Assert.Equal("send_failed", Assert.Single(dropped.GetMeasurementSnapshot()).Tags["error.type"]);
    }

    [Fact]
    public async Task FailedPredictionsPost_DoesNotStopTheLabelsPost()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        server.Enqueue(new ScriptedResponse(400));

        client.Mpm.LogEvent("p1");
        client.Mpm.LogLabel("p1", Features(("y", 1)));
        Assert.False(await client.Mpm.FlushAsync());
        LedgerAssert.Balanced(client);

        Assert.Equal(["/mpm/v2/events/batch", "/mpm/v2/labels/batch"], server.Batches.Select(b => b.Path));
    }
}
