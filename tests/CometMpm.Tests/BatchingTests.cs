using CometMpm.Tests.Infrastructure;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

public sealed class BatchingTests
{
    [Fact]
    public async Task MaxBatchSize2_FiveEvents_SendsThreeRequestsOf2_2_1()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:MaxBatchSize"] = "2" });

        for (var i = 0; i < 5; i++)
        {
            Assert.True(client.Mpm.LogEvent($"p{i}", Features(("i", i))).IsAccepted);
        }

        // The last, incomplete batch goes out at the end, as with the Python SDK's end().
        Assert.True(await client.Mpm.EndAsync());
        Assert.Equal([2, 2, 1], server.Batches.Select(b => b.Events.Count));
        Assert.Equal(["p0", "p1", "p2", "p3", "p4"], server.Batches.SelectMany(b => b.Events).Select(e => e.GetProperty("predictionId").GetString()));
    }

    [Fact]
    public async Task MaxBatchTime60s_OneEvent_IsSentAt60sAndNotBefore()
    {
        var time = new ObservableTimeProvider();
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, timeProvider: time);
        await client.Client.HealthChecked;

        client.Mpm.LogEvent("p1", Features(("a", 1)));
        await time.WaitForTimerAsync(TimeSpan.FromSeconds(60));

        time.Advance(TimeSpan.FromSeconds(59));
        await Task.Delay(200); // a negative check: give a wrongly early send the chance to show up
        Assert.Empty(server.Batches);

        time.Advance(TimeSpan.FromSeconds(1));
        var batches = await server.WaitForBatchesAsync(1);
        Assert.Equal("p1", Assert.Single(Assert.Single(batches, b => b.Method == "POST").Events).GetProperty("predictionId").GetString());
    }

    [Fact]
    public async Task MaxBatchTime_CountsFromTheFirstEventOfTheBatch()
    {
        var time = new ObservableTimeProvider();
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, timeProvider: time, settings: new Dictionary<string, string?> { ["CometMpm:MaxBatchTime"] = "00:00:10" });
        await client.Client.HealthChecked;

        client.Mpm.LogEvent("p1");
        await time.WaitForTimerAsync(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(6));
        client.Mpm.LogEvent("p2");
        await time.WaitForTimerAsync(TimeSpan.FromSeconds(4));
        time.Advance(TimeSpan.FromSeconds(4));

        var batches = await server.WaitForBatchesAsync(1);
        Assert.Equal(2, batches.Single(b => b.Method == "POST").Events.Count);
    }

    [Fact]
    public async Task FlushAsync_SendsWithoutWaitingForBatchTime_AndReportsDelivery()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        client.Mpm.LogEvent("p1");
        Assert.True(await client.Mpm.FlushAsync());
        Assert.Single(server.Batches);

        // Nothing pending: returns at once.
        Assert.True(await client.Mpm.FlushAsync());
    }
}
