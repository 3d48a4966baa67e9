using System.Text.Json;
using CometMpm.Emulator;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

/// <summary>The client against the local MPM emulator: what is logged is what the emulator stored.</summary>
public sealed class EmulatorIntegrationTests
{
    [Fact]
    public async Task LoggedEventsAndLabels_AreStoredWithIdenticalValues()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        await using var client = await StartAsync(Settings(emulator.BaseUrl));
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1717243200456);

        Assert.True(client.Mpm.LogEvent(
            "txn-1",
            Features(("amount", 129.5), ("count", 9007199254740993L), ("country", "PT"), ("card_present", false), ("missing", null), ("nan", double.NaN), ("whole", 2.0)),
            Features(("value", "legit"), ("probability", 0.97)),
            timestamp: at).IsAccepted);
        Assert.True(client.Mpm.LogEvent("txn-2", Features(("amount", 1)), timestamp: at).IsAccepted);
        Assert.True(client.Mpm.LogLabel("txn-1", Features(("chargeback", true)), at.AddDays(1)).IsAccepted);
        Assert.True(await client.Mpm.FlushAsync());

        var page = await emulator.Client.GetEventsAsync("payments", "fraud-detector", "2.3.0");
        Assert.Equal(["txn-1", "txn-2"], page.Events.Select(e => e.PredictionId.GetString()));
        var first = page.Events[0];
        Assert.Equal(1717243200456, first.Timestamp);
        Assert.Equal(129.5, first.Features!["amount"].GetDouble());
        Assert.Equal(9007199254740993L, first.Features["count"].GetInt64());
        Assert.Equal("PT", first.Features["country"].GetString());
        Assert.Equal(JsonValueKind.False, first.Features["card_present"].ValueKind);
        Assert.Equal(JsonValueKind.Null, first.Features["missing"].ValueKind);
        Assert.Equal(JsonValueKind.Null, first.Features["nan"].ValueKind);
        Assert.Equal(2.0, first.Features["whole"].GetDouble());
        Assert.Equal("legit", first.Prediction!["value"].GetString());
        Assert.Equal(0.97, first.Prediction["probability"].GetDouble());
        Assert.Equal(JsonValueKind.True, first.Labels!["chargeback"].ValueKind);

        var model = Assert.Single(await emulator.Client.GetModelsAsync());
        Assert.Equal(2, model.Predictions);
        Assert.Equal(1, model.Labels);
    }

    [Fact]
    public async Task ManyEvents_AllArriveOnce()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        await using var client = await StartAsync(Settings(emulator.BaseUrl), settings: new Dictionary<string, string?> { ["CometMpm:MaxBatchSize"] = "500" });

        for (var i = 0; i < 5_000; i++)
        {
            client.Mpm.LogEvent($"p{i}", Features(("i", i), ("s", i % 3 == 0 ? "a" : "b")));
        }

        Assert.True(await client.Mpm.EndAsync());
        Assert.Equal(5_000, Assert.Single(await emulator.Client.GetModelsAsync()).Predictions);
        var requests = await emulator.Client.GetRequestsAsync(limit: 100);
        Assert.All(requests, r => Assert.DoesNotContain(ApiKey, string.Join(";", r.Headers.Values), StringComparison.Ordinal));
    }
}
