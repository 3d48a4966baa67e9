using CometMpm.Datasets.Tests.Infrastructure;
using Microsoft.Data.Analysis;

namespace CometMpm.Datasets.Tests;

/// <summary>Data frames and <c>comet-mpm log</c> send what <c>LogEvent</c> sends for the same value (the client's one type table).</summary>
public sealed class ValueNormalizationTests : IAsyncLifetime
{
    private static readonly DateTime When = new(2024, 6, 1, 12, 30, 45, 123, DateTimeKind.Utc);

    private RecordingServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task LogDataFrameAsync_DateTimeColumn_SendsTheIsoStringLogEventSends()
    {
        await using var client = TestClient.Create(_server.BaseUrl);
        var frame = new DataFrame(
            new StringDataFrameColumn("id", ["by-frame"]),
            new DateTimeDataFrameColumn("when", [When]),
            new DoubleDataFrameColumn("score", [1.0]),
            new DateTimeDataFrameColumn("missing", [null]));

        var result = await client.Mpm.LogDataFrameAsync(frame, new RowColumns("id") { FeatureColumns = ["when", "score", "missing"] });
        var logged = client.Mpm.LogEvent("by-log-event", new Dictionary<string, object?> { ["when"] = When, ["score"] = 1.0, ["missing"] = null });

        Assert.Equal(1, result.Logged);
        Assert.True(logged.IsAccepted, logged.ToString());
        Assert.True(await client.Mpm.FlushAsync());
        var features = _server.Events.ToDictionary(e => e.GetProperty("predictionId").GetString()!, e => e.GetProperty("features").GetRawText());
        Assert.Equal("""{"when":"2024-06-01T12:30:45.1230000Z","score":1.0,"missing":null}""", features["by-frame"]);
        Assert.Equal(features["by-log-event"], features["by-frame"]);
    }

    [Fact]
    public async Task Log_JsonLines_ScalarsAreSentAsWritten_AsTheLabelsEndpointSendsThem()
    {
        // The same object the labels endpoint test posts (CometMpm.AspNetCore.Tests.ValueNormalizationTests).
        const string labels = """{"amount_lost":1.50,"count":3,"big":12345678901234567890123,"ratio":1e3,"note":"ok","flag":false,"missing":null}""";
        var file = SampleData.WriteTemp(
            """{"predictionId":"p1","timestamp":1713006000001,"features":{"when":"2024-06-01T12:30:45.1230000Z"},"labels":""" + labels + "}\n"
            + """{"predictionId":"p2","features":{"nested":{"a":1}}}""" + "\n",
            "events.jsonl");

        var run = await CliRunner.RunAsync(Environment(), "log", file);

        Assert.Equal(3, run.ExitCode); // one line refused, the other delivered
        Assert.Contains("inputFeatures[\"nested\"] is a JsonElement, which is not a scalar", run.Stderr, StringComparison.Ordinal);
        var sent = Assert.Single(_server.Events);
        Assert.Equal("""{"when":"2024-06-01T12:30:45.1230000Z"}""", sent.GetProperty("features").GetRawText());
        Assert.Equal(labels, sent.GetProperty("labels").GetRawText());
    }

    private Dictionary<string, string?> Environment() => CliRunner.Environment(_server.BaseUrl);
}
