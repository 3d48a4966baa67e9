using System.Data;
using System.Diagnostics;
using System.Text.Json;
using CometMpm.Datasets.Tests.Infrastructure;
using Xunit.Abstractions;

namespace CometMpm.Datasets.Tests;

public sealed class RowLoggingTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string ExpectedSample =
        """{"predictionId":"someAssetId_-1895825684","timestamp":1713006000001,"features":{"oneMoreFeature":"Dog","anotherFeature":"special","someFeature":53.0986324781934},"prediction":{"fingers_count":7,"probability":0.87,"value":"Bird"},"labels":{"label_fingers_count":4,"animal":"Fish"}}"""
        + """|{"predictionId":"someAssetId_926457604","timestamp":1713006600001,"features":{"oneMoreFeature":null,"anotherFeature":"special","someFeature":55.7311021832399},"prediction":{"fingers_count":1,"probability":0.69,"value":"Fish"},"labels":{"label_fingers_count":6,"animal":"Fish"}}"""
        + """|{"predictionId":"someAssetId_2145792990","timestamp":1713007200001,"features":{"oneMoreFeature":"Rabbit","anotherFeature":"special","someFeature":49.406275455487},"prediction":{"fingers_count":4,"probability":0.59,"value":"Bird"},"labels":{"label_fingers_count":1,"animal":"Fish"}}""";

    private RecordingServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task LogRowsAsync_ObjectsByPropertyName_LogsTheSeedSampleRows()
    {
        await using var client = TestClient.Create(_server.BaseUrl);

        var result = await client.Mpm.LogRowsAsync(SampleData.Rows, SampleData.Columns);

        await AssertSampleDeliveredAsync(client, result);
    }

    [Fact]
    public async Task LogRowsAsync_ObjectsBySelector_LogsTheSeedSampleRows()
    {
        await using var client = TestClient.Create(_server.BaseUrl);
        var mapping = new RowMapping<SampleRow>(r => r.PredictionId)
            .Feature("oneMoreFeature", r => r.oneMoreFeature)
            .Feature("anotherFeature", r => r.anotherFeature)
            .Feature("someFeature", r => r.someFeature)
            .Outputs("fingers_count", "probability", "value")
            .Label("label_fingers_count", r => r.label_fingers_count)
            .Label("animal", r => r.animal)
            .Timestamp(r => r.timestamp);

        var result = await client.Mpm.LogRowsAsync(SampleData.Rows, mapping);

        await AssertSampleDeliveredAsync(client, result);
    }

    [Fact]
    public async Task LogRowsAsync_DataReader_LogsTheSeedSampleRowsWithDbNullAsNull()
    {
        await using var client = TestClient.Create(_server.BaseUrl);
        using var table = SampleData.Table();
        using var reader = table.CreateDataReader();

        var result = await client.Mpm.LogRowsAsync(reader, SampleData.Columns);

        await AssertSampleDeliveredAsync(client, result);
    }

    [Fact]
    public async Task LogDataFrameAsync_DataFrame_LogsTheSeedSampleRows()
    {
        await using var client = TestClient.Create(_server.BaseUrl);
        var frame = SampleData.Frame();

        var result = await client.Mpm.LogDataFrameAsync(frame, SampleData.Columns);

        await AssertSampleDeliveredAsync(client, result);
    }

    [Fact]
    public async Task LogRowsAsync_InvalidRows_AreRejectedWithTheirRowNumbers()
    {
        await using var client = TestClient.Create(_server.BaseUrl);
        var rows = new[]
        {
            new { Id = (object?)"a", X = (object?)1.5, P = (object?)0.5, T = (object?)1713006000.5 },
            new { Id = (object?)null, X = (object?)2.0, P = (object?)0.5, T = (object?)null },
            new { Id = (object?)"c", X = (object?)new[] { 1, 2 }, P = (object?)0.5, T = (object?)null },
            new { Id = (object?)"d", X = (object?)double.NaN, P = (object?)1.5, T = (object?)null },
            new { Id = (object?)"e", X = (object?)DBNull.Value, P = (object?)double.NaN, T = (object?)"yesterday" },
            new { Id = (object?)42, X = (object?)float.PositiveInfinity, P = (object?)null, T = (object?)DBNull.Value },
        };
        var typed = new RowMapping<(object? Id, object? X, object? P, object? T)>(r => r.Id)
            .Feature("x", r => r.X)
            .OutputProbability(r => r.P)
            .Timestamp(r => r.T);

        var result = await client.Mpm.LogRowsAsync(rows.Select(r => (r.Id, r.X, r.P, r.T)), typed, new RowLoggingOptions { MaxReportedRejections = 3 });

        Assert.Equal(6, result.Rows);
        Assert.Equal(2, result.Logged);
        Assert.Equal(4, result.Rejected);
        Assert.Equal(0, result.Dropped);
        Assert.Equal([2L, 3L, 4L], result.Rejections.Select(r => r.Row));
        Assert.Contains("predictionId is missing", result.Rejections[0].Reason, StringComparison.Ordinal);
        Assert.Contains("feature 'x' is a Int32[]", result.Rejections[1].Reason, StringComparison.Ordinal);
        Assert.Contains("between 0 and 1", result.Rejections[2].Reason, StringComparison.Ordinal);
        Assert.True(await client.Mpm.FlushAsync());
        var events = _server.Events.Select(e => e.GetRawText()).ToList();
        Assert.Equal(2, events.Count);
        Assert.Contains("\"predictionId\":\"a\",\"timestamp\":1713006000500,\"features\":{\"x\":1.5},\"prediction\":{\"probability\":0.5}", events[0], StringComparison.Ordinal);
        Assert.Contains("\"predictionId\":\"42\"", events[1], StringComparison.Ordinal);
        Assert.Contains("\"features\":{\"x\":null}", events[1], StringComparison.Ordinal);
        Assert.DoesNotContain("\"prediction\":", events[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogRowsAsync_DeprecatedValueAndProbabilityColumns_AreMergedAsTheProtocolSays()
    {
        await using var client = TestClient.Create(_server.BaseUrl);
        var columns = new RowColumns("PredictionId") { OutputValueColumn = "value", OutputProbabilityColumn = "probability", OutputFeaturesColumns = ["fingers_count"] };

        var result = await client.Mpm.LogRowsAsync(SampleData.Rows.Take(1), columns);

        Assert.Equal(1, result.Logged);
        Assert.True(await client.Mpm.FlushAsync());
        var sent = Assert.Single(_server.Events);
        Assert.Equal("""{"value":"Bird","probability":0.87,"fingers_count":7}""", sent.GetProperty("prediction").GetRawText());
        Assert.False(sent.TryGetProperty("features", out _));
    }

    [Fact]
    public async Task LogRowsAsync_UnknownColumn_ThrowsNamingIt()
    {
        await using var client = TestClient.Create(_server.BaseUrl);
        using var table = SampleData.Table();
        using var reader = table.CreateDataReader();

        var fromReader = Assert.Throws<ArgumentException>(() => { _ = client.Mpm.LogRowsAsync(reader, new RowColumns("nope")); });
        var fromObjects = Assert.Throws<ArgumentException>(() => { _ = client.Mpm.LogRowsAsync(SampleData.Rows, new RowColumns("PredictionId") { FeatureColumns = ["Colour"] }); });

        Assert.Contains("'nope'", fromReader.Message, StringComparison.Ordinal);
        Assert.Contains("'Colour'", fromObjects.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogRowsAsync_QueueSmallerThanInput_WaitsForRoomInsteadOfDropping()
    {
        _server.BatchDelay = TimeSpan.FromMilliseconds(20);
        await using var client = TestClient.Create(_server.BaseUrl, o =>
        {
            o.QueueCapacity = 200;
            o.MaxBatchSize = 100;
        });

        var result = await client.Mpm.LogRowsAsync(new GeneratedReader(5_000), Columns);

        Assert.Equal(5_000, result.Logged);
        Assert.Equal(0, result.Dropped);
        Assert.True(await client.Mpm.FlushAsync());
        Assert.Equal(5_000, _server.Events.Count);
    }

    [Fact]
    public async Task LogRowsAsync_MillionRowsFromADataReader_StreamWithFlatMemory()
    {
        _server.CountOnly = true;
        const int Rows = 1_000_000;
        await using var client = TestClient.Create(_server.BaseUrl, o =>
        {
            o.QueueCapacity = 20_000;
            o.MaxBatchSize = 5_000;
        });
        using var reader = new GeneratedReader(Rows);
        var warmUp = await client.Mpm.LogRowsAsync(new GeneratedReader(50_000), Columns);
        Assert.True(await client.Mpm.FlushAsync());
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = 0;
        reader.OnRow = row =>
        {
            if (row % 100_000 == 0)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: false));
            }
        };
        var watch = Stopwatch.StartNew();

        var result = await client.Mpm.LogRowsAsync(reader, Columns);
        Assert.True(await client.Mpm.FlushAsync());

        watch.Stop();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        output.WriteLine($"1,000,000 rows in {watch.Elapsed.TotalSeconds:F1} s; managed heap baseline {baseline / 1048576.0:F1} MiB, peak sampled {peak / 1048576.0:F1} MiB, after {after / 1048576.0:F1} MiB; working set {Environment.WorkingSet / 1048576.0:F0} MiB");
        Assert.Equal(50_000, warmUp.Logged);
        Assert.Equal(Rows, result.Logged);
        Assert.Equal(0, result.Dropped);
        Assert.Equal(Rows + 50_000, _server.EventCount);
        Assert.InRange(after - baseline, long.MinValue, 20L * 1024 * 1024);
        Assert.InRange(peak - baseline, long.MinValue, 150L * 1024 * 1024);
    }

    private static readonly RowColumns Columns = new("id")
    {
        FeatureColumns = ["amount", "country"],
        OutputFeaturesColumns = ["score"],
        TimestampColumn = "ts",
    };

    private async Task AssertSampleDeliveredAsync(TestClient client, RowLoggingResult result)
    {
        Assert.Equal(new RowLoggingResult(3, 3, 0, 0, []), result with { Rejections = [] });
        Assert.Empty(result.Rejections);
        Assert.True(await client.Mpm.FlushAsync());
        var events = _server.Events.Select(e =>
        {
            var copy = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(e.GetRawText())!;
            Assert.Equal("payments", copy["workspaceName"].GetString());
            Assert.Equal("fraud-detector", copy["modelName"].GetString());
            Assert.Equal("2.3.0", copy["modelVersion"].GetString());
            copy.Remove("workspaceName");
            copy.Remove("modelName");
            copy.Remove("modelVersion");
            return JsonSerializer.Serialize(copy);
        });
        Assert.Equal(ExpectedSample, string.Join("|", events));
    }
}
