using System.Net;
using System.Text.Json;
using static CometMpm.Emulator.Tests.TestSupport;

namespace CometMpm.Emulator.Tests;

public sealed class CsvUploadTests
{
    private static async Task<(HttpStatusCode Status, string Text)> UploadAsync(HttpClient http, string path, MultipartFormDataContent form)
    {
        using (form)
        {
            using var response = await http.PostAsync(path, form);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task EventsCsv_SeedSample_StoresPredictionsWithPrefixesStripped()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        var (status, text) = await UploadAsync(http, "v2/data/events/csv", CsvForm(SampleCsv));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("done: 3 rows, 3 stored, 0 duplicates ignored, 0 invalid", text);
        var events = (await emulator.Client.GetEventsAsync("ws", "model", "1.0")).Events;
        Assert.Equal(["someAssetId_-1895825684", "someAssetId_926457604", "someAssetId_2145792990"], events.Select(e => e.PredictionId.GetString()));
        var first = events[0];
        Assert.Equal(1713006000001, first.Timestamp);
        Assert.Equal("Dog", first.Features!["oneMoreFeature"].GetString());
        Assert.Equal("special", first.Features["anotherFeature"].GetString());
        Assert.Equal("53.09863247819340", first.Features["someFeature"].GetRawText());
        Assert.Equal(7, first.Prediction!["fingers_count"].GetInt32());
        Assert.Equal(0.87, first.Prediction["probability"].GetDouble());
        Assert.Equal("Bird", first.Prediction["value"].GetString());
        Assert.Equal(4, first.Labels!["fingers_count"].GetInt32());
        Assert.Equal("Fish", first.Labels["animal"].GetString());
        Assert.Equal(JsonValueKind.Null, events[1].Features!["oneMoreFeature"].ValueKind);
    }

    [Fact]
    public async Task EventsCsv_NAValuesSpecial_MakesAnotherFeatureNull()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        var (status, _) = await UploadAsync(http, "v2/data/events/csv", CsvForm(SampleCsv, naValues: "special"));

        Assert.Equal(HttpStatusCode.OK, status);
        var events = (await emulator.Client.GetEventsAsync()).Events;
        Assert.All(events, e => Assert.Equal(JsonValueKind.Null, e.Features!["anotherFeature"].ValueKind));
        Assert.Equal(JsonValueKind.Null, events[1].Features!["oneMoreFeature"].ValueKind);
    }

    [Fact]
    public async Task EventsCsv_KeepDefaultNAValuesFalse_KeepsNullAsAString()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        var (status, _) = await UploadAsync(http, "v2/data/events/csv", CsvForm(SampleCsv, naValues: "special", keepDefault: "FALSE"));

        Assert.Equal(HttpStatusCode.OK, status);
        var events = (await emulator.Client.GetEventsAsync()).Events;
        Assert.Equal("null", events[1].Features!["oneMoreFeature"].GetString());
        Assert.Equal(JsonValueKind.Null, events[1].Features!["anotherFeature"].ValueKind);
    }

    [Fact]
    public async Task LateLabelsCsv_SeedSample_JoinsLabelsToPredictions()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        await PostAsync(http, "v2/events/batch", Batch(Event("\"someAssetId_-1895825684\""), Event("\"someAssetId_926457604\"")));

        var (status, text) = await UploadAsync(http, "v2/data/labels/csv", CsvForm(SampleCsv));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("3 labels stored", text);
        var events = (await emulator.Client.GetEventsAsync()).Events;
        Assert.Equal(2, events.Count);
        Assert.Equal(4, events[0].Labels!["fingers_count"].GetInt32());
        Assert.Equal(6, events[1].Labels!["fingers_count"].GetInt32());
        Assert.False(events[0].Features!.ContainsKey("oneMoreFeature"));
        var model = Assert.Single(await emulator.Client.GetModelsAsync());
        Assert.Equal((2L, 3L, 0L), (model.Predictions, model.Labels, model.Datasets));
    }

    [Fact]
    public async Task TrainingEventsCsv_SeedSample_CountsDatasetRows()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        var (status, _) = await UploadAsync(http, "v2/dataset/events/csv", CsvForm(SampleCsv, datasetName: "training-2024", naValues: "special", keepDefault: "true"));

        Assert.Equal(HttpStatusCode.OK, status);
        var model = Assert.Single(await emulator.Client.GetModelsAsync());
        Assert.Equal((0L, 0L, 3L), (model.Predictions, model.Labels, model.Datasets));
    }

    [Fact]
    public async Task TrainingEventsCsv_WithoutDatasetName_Returns400()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        var (status, text) = await UploadAsync(http, "v2/dataset/events/csv", CsvForm(SampleCsv));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("datasetName", text);
        Assert.Empty(await emulator.Client.GetModelsAsync());
    }

    [Fact]
    public async Task EventsCsv_BadKeepDefaultNAValues_Returns400()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        var (status, text) = await UploadAsync(http, "v2/data/events/csv", CsvForm(SampleCsv, keepDefault: "maybe"));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("keepDefaultNAValues", text);
    }

    [Fact]
    public async Task EventsCsv_QuotedFieldsAndNoIdColumn_ParsesAndGeneratesIds()
    {
        await using var emulator = await MpmEmulator.StartAsync(new MpmEmulatorOptions { CsvProgressEvery = 2 });
        using var http = CreateHttp(emulator);
        const string Csv = "feature_text,feature_n,prediction_ok\r\n\"a, \"\"quoted\"\"\nline\",1,true\r\nplain,2.5,False\r\nbroken,row\r\nx,-3,\r\n";

        var (status, text) = await UploadAsync(http, "v2/data/events/csv", CsvForm(Csv));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("processed 2 rows\n", text);
        Assert.Contains("processed 4 rows\n", text);
        Assert.Contains("row 3: has 2 fields, the header has 3", text);
        Assert.Contains("done: 4 rows, 3 stored, 0 duplicates ignored, 1 invalid", text);
        var events = (await emulator.Client.GetEventsAsync()).Events;
        Assert.Equal("a, \"quoted\"\nline", events[0].Features!["text"].GetString());
        Assert.True(events[0].Prediction!["ok"].GetBoolean());
        Assert.Equal(2.5, events[1].Features!["n"].GetDouble());
        Assert.Equal(JsonValueKind.Null, events[2].Prediction!["ok"].ValueKind);
        Assert.All(events, e => Assert.True(Guid.TryParse(e.PredictionId.GetString(), out _)));
    }

    [Fact]
    public async Task EventsCsv_NoAuthorization_Returns401()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator, key: null);

        var (status, _) = await UploadAsync(http, "v2/data/events/csv", CsvForm(SampleCsv));

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task EventsCsv_UnclosedQuote_ReportsTheLineTheRecordStartsOn_AndStoresTheRowsBefore()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        const string Csv = "feature_text,feature_n\r\n\"two\nlines\",1\r\n\"open,2\r\nmore,3\r\n";

        var (status, text) = await UploadAsync(http, "v2/data/events/csv", CsvForm(Csv));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("error: line 4: a quoted field opened in this record is not closed before the end of the file", text);
        Assert.Contains("done: 2 rows, 1 stored, 0 duplicates ignored, 1 invalid", text);
        Assert.Equal("two\nlines", Assert.Single((await emulator.Client.GetEventsAsync()).Events).Features!["text"].GetString());
    }
}
