using CometMpm.Tests.Infrastructure;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

public sealed class ValidationTests
{
    public static TheoryData<string, Dictionary<string, object?>?, string> InvalidInputs => new()
    {
        { "", null, "predictionId is empty" },
        { "  ", null, "predictionId is empty" },
        { "p1", Features(("nested", new Dictionary<string, object?> { ["x"] = 1 })), "inputFeatures[\"nested\"]" },
        { "p1", Features(("list", new List<int> { 1, 2 })), "not a scalar" },
        { "p1", Features(("bytes", new byte[] { 1, 2 })), "inputFeatures[\"bytes\"] is a Byte[]" },
        { "p1", Features(("", 1)), "inputFeatures has an empty name" },
    };

    [Theory]
    [MemberData(nameof(InvalidInputs))]
    public async Task LogEvent_InvalidInput_IsRefusedWithAMessageNamingTheField(string id, Dictionary<string, object?>? features, string expected)
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        using var dropped = client.Collect("cometmpm.events.dropped");

        var result = client.Mpm.LogEvent(id, features);

        Assert.Equal(LogStatus.InvalidInput, result.Status);
        Assert.Contains(expected, result.Message, StringComparison.Ordinal);
        Assert.Equal("invalid", Assert.Single(dropped.GetMeasurementSnapshot()).Tags["error.type"]);
        Assert.True(await client.Mpm.FlushAsync());
        Assert.Empty(server.Batches);
    }

    [Fact]
    public async Task LogLabel_NestedLabel_IsRefusedNamingLabels()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        var result = client.Mpm.LogLabel("p1", Features(("y", new[] { 1 })));

        Assert.Equal(LogStatus.InvalidInput, result.Status);
        Assert.Contains("labels[\"y\"]", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public async Task DeprecatedProbability_OutsideZeroToOne_IsRefused(double probability)
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

#pragma warning disable CS0618
        var result = client.Mpm.LogEvent("p1", null, "yes", probability);
#pragma warning restore CS0618

        Assert.Equal(LogStatus.InvalidInput, result.Status);
        Assert.Contains("outputProbability", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThrowOnInvalidInput_Throws()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:ThrowOnInvalidInput"] = "true" });

        var ex = Assert.Throws<ArgumentException>(() => client.Mpm.LogEvent("p1", Features(("x", new object()))));
        Assert.Contains("inputFeatures[\"x\"]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallerMutatingItsMapAfterLogging_DoesNotChangeTheEvent()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        var features = Features(("a", 1));

        client.Mpm.LogEvent("p1", features);
        features["a"] = 2;
        features["b"] = 3;
        await client.Mpm.FlushAsync();

        Assert.Equal("""{"a":1}""", Assert.Single(Assert.Single(server.Batches).Events).GetProperty("features").GetRawText());
    }

    [Fact]
    public async Task QueueFull_DropNewest_RefusesAndCounts()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?>
        {
            ["CometMpm:QueueCapacity"] = "3",
            ["CometMpm:MaxBatchSize"] = "1",
        });
        using var dropped = client.Collect("cometmpm.events.dropped");
        await client.Client.HealthChecked;
        server.Enqueue(new ScriptedResponse(200, Delay: TimeSpan.FromSeconds(2)));

        var results = Enumerable.Range(0, 10).Select(i => client.Mpm.LogEvent($"p{i}")).ToList();

        Assert.Contains(results, r => r.Status == LogStatus.QueueFull);
        var refused = results.Count(r => r.Status == LogStatus.QueueFull);
        Assert.Equal(refused, dropped.GetMeasurementSnapshot().Where(m => (string?)m.Tags["error.type"] == "queue_full").Sum(m => m.Value));
        Assert.Contains("QueueCapacity", results.First(r => !r.IsAccepted).Message, StringComparison.Ordinal);
        Assert.True(await client.Mpm.FlushAsync());
        Assert.Equal(10 - refused, server.Batches.Sum(b => b.Events.Count));
    }

    [Fact]
    public async Task QueueFull_DropOldest_AcceptsNewAndCountsTheEvicted()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?>
        {
            ["CometMpm:QueueCapacity"] = "3",
            ["CometMpm:MaxBatchSize"] = "1",
            ["CometMpm:FullQueuePolicy"] = "DropOldest",
        });
        using var dropped = client.Collect("cometmpm.events.dropped");
        await client.Client.HealthChecked;
        server.Enqueue(new ScriptedResponse(200, Delay: TimeSpan.FromSeconds(2)));

        var results = Enumerable.Range(0, 10).Select(i => client.Mpm.LogEvent($"p{i}")).ToList();

        Assert.All(results, r => Assert.True(r.IsAccepted));
        Assert.False(await client.Mpm.FlushAsync());
        var evicted = dropped.GetMeasurementSnapshot().Where(m => (string?)m.Tags["error.type"] == "queue_full").Sum(m => m.Value);
        Assert.True(evicted > 0);
        var delivered = server.Batches.SelectMany(b => b.Events).Select(e => e.GetProperty("predictionId").GetString()).ToList();
        Assert.Equal(10 - evicted, delivered.Count);
        Assert.Contains("p9", delivered);
    }
}
