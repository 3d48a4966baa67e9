using System.Text.Json;
using CometMpm.Datasets.Tests.Infrastructure;
using CometMpm.Emulator;

namespace CometMpm.Datasets.Tests;

/// <summary>Row logging, CSV upload and the CLI against the local MPM emulator: what arrives is what was sent.</summary>
public sealed class EmulatorDatasetTests : IAsyncLifetime
{
    private MpmEmulator _emulator = null!;

    public async Task InitializeAsync() => _emulator = await MpmEmulator.StartAsync();

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    public static TheoryData<string> Inputs => ["objects", "datareader", "dataframe"];

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task LogRows_EachInputKind_StoresTheSeedSampleWithIdenticalValues(string input)
    {
        await using var client = TestClient.Create(_emulator.BaseUrl);
        using var table = SampleData.Table();
        using var reader = table.CreateDataReader();
        var result = input switch
        {
            "objects" => await client.Mpm.LogRowsAsync(SampleData.Rows, SampleData.Columns),
            "datareader" => await client.Mpm.LogRowsAsync(reader, SampleData.Columns),
            _ => await client.Mpm.LogDataFrameAsync(SampleData.Frame(), SampleData.Columns),
        };
        Assert.Equal(3, result.Logged);
        Assert.True(await client.Mpm.FlushAsync());

        var events = (await _emulator.Client.GetEventsAsync("payments", "fraud-detector", "2.3.0")).Events;
        Assert.Equal(SampleData.Rows.Select(r => r.PredictionId), events.Select(e => e.PredictionId.GetString()));
        foreach (var (row, stored) in SampleData.Rows.Zip(events))
        {
            Assert.Equal((long)(row.timestamp * 1000.0), stored.Timestamp);
            AssertValue(row.oneMoreFeature, stored.Features!["oneMoreFeature"]);
            AssertValue(row.anotherFeature, stored.Features["anotherFeature"]);
            Assert.Equal(row.someFeature, stored.Features["someFeature"].GetDouble());
            Assert.Equal(row.fingers_count, stored.Prediction!["fingers_count"].GetInt32());
            Assert.Equal(row.probability, stored.Prediction["probability"].GetDouble());
            Assert.Equal(row.value, stored.Prediction["value"].GetString());
            Assert.Equal(row.label_fingers_count, stored.Labels!["label_fingers_count"].GetInt32());
            Assert.Equal(row.animal, stored.Labels["animal"].GetString());
        }
    }

    [Theory]
    [InlineData(null, null, "\"Dog\"|null|\"Rabbit\"", "special|special|special")]
    [InlineData("special", null, "\"Dog\"|null|\"Rabbit\"", "null|null|null")]
    [InlineData("special", false, "\"Dog\"|\"null\"|\"Rabbit\"", "null|null|null")]
    public async Task UploadEvents_WithAndWithoutNaOptions_StoresTheRows(string? naValues, bool? keepDefault, string oneMoreFeature, string anotherFeature)
    {
        await using var client = TestClient.Create(_emulator.BaseUrl);

        var result = await client.Mpm.UploadDatasetCsvAsync(SampleData.WriteTemp(SampleData.Csv), DatasetType.Events, naValues: naValues, keepDefaultNaValues: keepDefault);

        Assert.True(result.Uploaded, result.Message);
        var events = (await _emulator.Client.GetEventsAsync("payments", "fraud-detector", "2.3.0")).Events;
        Assert.Equal(3, events.Count);
        Assert.Equal(oneMoreFeature, string.Join("|", events.Select(e => e.Features!["oneMoreFeature"].GetRawText())));
        Assert.Equal(anotherFeature, string.Join("|", events.Select(e => e.Features!["anotherFeature"].ValueKind == JsonValueKind.Null ? "null" : e.Features["anotherFeature"].GetString())));
        Assert.Equal(1713006000001, events[0].Timestamp);
        Assert.Equal("Fish", events[0].Labels!["animal"].GetString());
        Assert.Equal(0.87, events[0].Prediction!["probability"].GetDouble());
        Assert.Contains(result.ServerMessages, m => m.Contains('3', StringComparison.Ordinal));
    }

    [Fact]
    public async Task UploadLateLabels_JoinsLabelsToStoredPredictions()
    {
        await using var client = TestClient.Create(_emulator.BaseUrl);
        const string predictions =
            "timestamp,predictionId,feature_someFeature,prediction_value\n"
            + "1713006000001,someAssetId_-1895825684,53.1,Bird\n";
        Assert.True((await client.Mpm.UploadDatasetCsvAsync(SampleData.WriteTemp(predictions), DatasetType.Events)).Uploaded);

        var result = await client.Mpm.UploadDatasetCsvAsync(SampleData.WriteTemp(SampleData.LabelsCsv), DatasetType.LateLabels);

        Assert.True(result.Uploaded, result.Message);
        var stored = Assert.Single((await _emulator.Client.GetEventsAsync("payments", "fraud-detector", "2.3.0")).Events);
        Assert.Equal(4, stored.Labels!["fingers_count"].GetInt32());
        Assert.Equal("Fish", stored.Labels["animal"].GetString());
    }

    [Fact]
    public async Task UploadTrainingEvents_StoresAReferenceDataset()
    {
        await using var client = TestClient.Create(_emulator.BaseUrl);

        var result = await client.Mpm.UploadDatasetCsvAsync(SampleData.WriteTemp(SampleData.Csv), DatasetType.TrainingEvents, datasetName: "training-2024");

        Assert.True(result.Uploaded, result.Message);
        Assert.Equal(3, (await _emulator.Client.GetModelsAsync()).Sum(m => m.Datasets));
    }

    [Fact]
    public async Task UploadInChunks_ArrivesCompleteAndInOrder()
    {
        await using var client = TestClient.Create(_emulator.BaseUrl, o => o.CsvChunkSizeMb = 1);
        var header = SampleData.Csv[..SampleData.Csv.IndexOf('\n', StringComparison.Ordinal)];
        var lines = Enumerable.Range(0, 40_000).Select(i => $"{1713006000000 + i},id-{i:D6},Dog,special,{i}.5,7,0.87,Bird,4,Fish");
        var path = SampleData.WriteTemp(header + "\n" + string.Join("\n", lines) + "\n");

        var result = await client.Mpm.UploadDatasetCsvAsync(path, DatasetType.Events);

        Assert.True(result.Requests > 1, $"{result.Requests} requests for {new FileInfo(path).Length} bytes");
        var ids = new List<string>();
        long? after = null;
        EmulatorEventsPage page;
        do
        {
            page = await _emulator.Client.GetEventsAsync(limit: 10_000, after: after);
            ids.AddRange(page.Events.Select(e => e.PredictionId.GetString()!));
            after = page.NextCursor;
        }
        while (page.HasMore);

        Assert.Equal(Enumerable.Range(0, 40_000).Select(i => $"id-{i:D6}"), ids);
    }

    [Fact]
    public async Task Cli_PingUploadAndLog_AgainstTheEmulator()
    {
        var environment = new Dictionary<string, string?>
        {
            ["COMET_API_KEY"] = TestClient.ApiKey,
            ["COMET_URL_OVERRIDE"] = _emulator.BaseUrl.ToString(),
            ["COMET_MPM_WORKSPACE_NAME"] = "cli",
            ["COMET_MPM_MODEL_NAME"] = "cli-model",
            ["COMET_MPM_MODEL_VERSION"] = "1",
        };

        var ping = await CliRunner.RunAsync(environment, "ping");
        Assert.Equal(0, ping.ExitCode);

        var upload = await CliRunner.RunAsync(environment, "upload", SampleData.WriteTemp(SampleData.Csv), "--type", "training-events", "--dataset-name", "reference", "--no-progress");
        Assert.Equal(0, upload.ExitCode);
        Assert.Equal(3, (await _emulator.Client.GetModelsAsync()).Sum(m => m.Datasets));

        const string jsonLines = """
            {"predictionId":"cli-1","features":{"age":41,"country":"PT"},"prediction":{"value":"approve"}}
            {"predictionId":"cli-2","features":{"age":23,"country":"FR"},"prediction":{"value":"decline"}}
            """;
        var log = await CliRunner.RunAsync(environment, "log", SampleData.WriteTemp(jsonLines, "events.jsonl"));
        Assert.Equal(0, log.ExitCode);
        var events = (await _emulator.Client.GetEventsAsync("cli", "cli-model", "1")).Events;
        Assert.Equal(["cli-1", "cli-2"], events.Select(e => e.PredictionId.GetString()));
        Assert.Equal("PT", events[0].Features!["country"].GetString());
    }

    private static void AssertValue(string? expected, JsonElement actual)
    {
        if (expected is null)
        {
            Assert.Equal(JsonValueKind.Null, actual.ValueKind);
        }
        else
        {
            Assert.Equal(expected, actual.GetString());
        }
    }
}
