using System.Net;
using System.Text.Json;
using static CometMpm.Emulator.Tests.TestSupport;

namespace CometMpm.Emulator.Tests;

public sealed class IngestionTests
{
    [Fact]
    public async Task Ping_WithKey_Returns200()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        using var response = await http.GetAsync("isAlive/ping");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(200, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task EventsBatch_MixedValues_RoundTripIdentically()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        const string Features = """{"s":"text é \"q\"","i":42,"big":9007199254740993,"neg":-7,"d":0.30000000000000004,"e":1e+300,"t":true,"f":false,"n":null}""";
        var json = Batch(Event("\"p-1\"", Features, extra: "\"prediction\":{\"value\":\"legit\",\"probability\":0.97},\"labels\":{\"chargeback\":false}"));

        var (response, body) = await PostAsync(http, "v2/events/batch", json);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"code":200}""", body.GetRawText());
        var page = await emulator.Client.GetEventsAsync("ws", "model", "1.0");
        var stored = Assert.Single(page.Events);
        Assert.Equal("p-1", stored.PredictionId.GetString());
        Assert.Equal(1717243200456, stored.Timestamp);
        var sent = JsonDocument.Parse(Features).RootElement;
        Assert.Equal(sent.EnumerateObject().Select(p => (p.Name, Value(p.Value))),
            stored.Features!.Select(p => (p.Key, Value(p.Value))));
        Assert.Equal("9007199254740993", stored.Features!["big"].GetRawText());
        Assert.Equal("text é \"q\"", stored.Features["s"].GetString());
        Assert.Equal(JsonValueKind.Null, stored.Features["n"].ValueKind);
        Assert.Equal("legit", stored.Prediction!["value"].GetString());
        Assert.Equal(0.97, stored.Prediction["probability"].GetDouble());
        Assert.False(stored.Labels!["chargeback"].GetBoolean());
    }

    [Fact]
    public async Task EventsBatch_IntegerPredictionId_StaysANumber()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        var (response, _) = await PostAsync(http, "v2/events/batch", Batch(Event("12345")));
        await PostAsync(http, "v2/labels/batch", Batch(Label("12345", """{"y":1}""")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stored = Assert.Single((await emulator.Client.GetEventsAsync()).Events);
        Assert.Equal(JsonValueKind.Number, stored.PredictionId.ValueKind);
        Assert.Equal(12345, stored.PredictionId.GetInt64());
        Assert.Equal(1, stored.Labels!["y"].GetInt32());
    }

    [Fact]
    public async Task EventsBatch_NoAuthorization_Returns401Json()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator, key: null);

        var (response, body) = await PostAsync(http, "v2/events/batch", Batch(Event("\"a\"")));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(401, body.GetProperty("code").GetInt32());
        Assert.Contains("Authorization", body.GetProperty("message").GetString());
        Assert.Empty((await emulator.Client.GetEventsAsync()).Events);
    }

    [Fact]
    public async Task EventsBatch_KeyNotInConfiguredList_Returns401()
    {
        var options = new MpmEmulatorOptions();
        options.ApiKeys.Add("the-right-key");
        await using var emulator = await MpmEmulator.StartAsync(options);
        using var wrong = CreateHttp(emulator, "Bearer the-right-key");
        using var right = CreateHttp(emulator, "the-right-key");

        var (wrongResponse, body) = await PostAsync(wrong, "v2/events/batch", Batch(Event("\"a\"")));
        var (rightResponse, _) = await PostAsync(right, "v2/events/batch", Batch(Event("\"a\"")));

        Assert.Equal(HttpStatusCode.Unauthorized, wrongResponse.StatusCode);
        Assert.Contains("Bearer", body.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.OK, rightResponse.StatusCode);
    }

    [Fact]
    public async Task EventsBatch_MalformedJson_Returns400WithParserMessage()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        var (response, body) = await PostAsync(http, "v2/events/batch", """{"data":[{"modelName":"m",]}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("malformed JSON:", body.GetProperty("message").GetString());
        Assert.Contains("LineNumber", body.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"events":[]}""", "missing 'data'")]
    [InlineData("""[]""", "bare array")]
    [InlineData("""{"data":{}}""", "must be an array")]
    public async Task EventsBatch_BadEnvelope_Returns400Explaining(string json, string expected)
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        var (response, body) = await PostAsync(http, "v2/events/batch", json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, body.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"modelName":"model","modelVersion":"1.0","workspaceName":"ws","predictionId":"bad","timestamp":1717243200,"features":{}}""", "timestamp", "looks like seconds")]
    [InlineData("""{"modelName":"model","modelVersion":"1.0","workspaceName":"ws","predictionId":"bad","timestamp":1717243200456.5,"features":{}}""", "timestamp", "float")]
    [InlineData("""{"modelName":"model","modelVersion":"1.0","workspaceName":"ws","predictionId":"bad","timestamp":1717243200456,"features":{"address":{"city":"x"}}}""", "features.address", "nested")]
    [InlineData("""{"modelName":7,"modelVersion":"1.0","workspaceName":"ws","predictionId":"bad","timestamp":1717243200456}""", "modelName", "must be a string, got a number")]
    [InlineData("""{"modelVersion":"1.0","workspaceName":"ws","predictionId":"bad","timestamp":1717243200456}""", "modelName", "required")]
    [InlineData("""{"modelName":"model","modelVersion":"1.0","workspaceName":"ws","predictionId":"bad","timestamp":1717243200456,"prediction":[1]}""", "prediction", "flat object")]
    [InlineData("""{"modelName":"model","modelVersion":"1.0","workspaceName":"ws","predictionId":"bad","timestamp":1717243200456,"predictions":{"v":1}}""", "predictions", "singular")]
    public async Task EventsBatch_InvalidEvent_Returns400NamingIndexAndField(string badEvent, string field, string message)
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        var json = Batch(Event("\"ok-0\""), Event("\"ok-1\""), badEvent);

        var (response, body) = await PostAsync(http, "v2/events/batch", json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(400, body.GetProperty("code").GetInt32());
        var error = Assert.Single(body.GetProperty("errors").EnumerateArray());
        Assert.Equal(2, error.GetProperty("index").GetInt32());
        Assert.Equal("bad", error.GetProperty("predictionId").GetString());
        Assert.Equal(field, error.GetProperty("field").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task EventsBatch_InvalidEventLenient_StoresTheValidOnes()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        var json = Batch(Event("\"a\""), Event("\"b\"", timestamp: 1717243200), Event("\"c\""));

        var (response, body) = await PostAsync(http, "v2/events/batch", json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(2, body.GetProperty("stored").GetInt32());
        Assert.Equal(1, body.GetProperty("rejected").GetInt32());
        var ids = (await emulator.Client.GetEventsAsync()).Events.Select(e => e.PredictionId.GetString());
        Assert.Equal(["a", "c"], ids);
    }

    [Fact]
    public async Task EventsBatch_InvalidEventWithEnforceValidation_StoresNothing()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        var json = Batch(Event("\"a\""), Event("\"b\"", timestamp: 1717243200), Event("\"c\""));

        var (response, body) = await PostAsync(http, "v2/events/batch?enforceValidation=true", json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, body.GetProperty("stored").GetInt32());
        Assert.Contains("nothing was stored", body.GetProperty("message").GetString());
        Assert.Empty((await emulator.Client.GetEventsAsync()).Events);
    }

    [Fact]
    public async Task EventsBatch_InvalidEventWithRejectWholeBatchOption_StoresNothing()
    {
        await using var emulator = await MpmEmulator.StartAsync(new MpmEmulatorOptions { RejectWholeBatch = true });
        using var http = CreateHttp(emulator);

        var (response, _) = await PostAsync(http, "v2/events/batch", Batch(Event("\"a\""), Event("\"b\"", features: """{"x":[1]}""")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty((await emulator.Client.GetEventsAsync()).Events);
    }

    [Fact]
    public async Task EventsBatch_DuplicatePredictionIds_FirstWins()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        await PostAsync(http, "v2/events/batch", Batch(Event("\"dup\"", """{"v":1}"""), Event("\"dup\"", """{"v":2}""")));
        var (response, _) = await PostAsync(http, "v2/events/batch", Batch(Event("\"dup\"", """{"v":3}"""), Event("\"dup\"", """{"v":4}""", version: "2.0")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var v1 = Assert.Single((await emulator.Client.GetEventsAsync(version: "1.0")).Events);
        Assert.Equal(1, v1.Features!["v"].GetInt32());
        var v2 = Assert.Single((await emulator.Client.GetEventsAsync(version: "2.0")).Events);
        Assert.Equal(4, v2.Features!["v"].GetInt32());
    }

    [Fact]
    public async Task LabelsBatch_AfterPrediction_JoinsAndUpdatesLabels()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        await PostAsync(http, "v2/events/batch", Batch(Event("\"p\"", extra: "\"labels\":{\"inline\":\"x\",\"chargeback\":false}")));
        var (response, _) = await PostAsync(http, "v2/labels/batch", Batch(Label("\"p\"", """{"chargeback":true,"value":"fraud"}""")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stored = Assert.Single((await emulator.Client.GetEventsAsync()).Events);
        Assert.Equal("x", stored.Labels!["inline"].GetString());
        Assert.True(stored.Labels["chargeback"].GetBoolean());
        Assert.Equal("fraud", stored.Labels["value"].GetString());
    }

    [Fact]
    public async Task LabelsBatch_BeforePrediction_KeptAndJoinedWhenItArrives()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        await PostAsync(http, "v2/labels/batch", Batch(Label("\"early\"", """{"chargeback":true}""")));
        var before = await emulator.Client.GetModelsAsync();
        await PostAsync(http, "v2/events/batch", Batch(Event("\"early\"", extra: "\"labels\":{\"chargeback\":false,\"other\":1}")));

        var model = Assert.Single(before);
        Assert.Equal((0L, 1L), (model.Predictions, model.Labels));
        var stored = Assert.Single((await emulator.Client.GetEventsAsync()).Events);
        Assert.True(stored.Labels!["chargeback"].GetBoolean());
        Assert.Equal(1, stored.Labels["other"].GetInt32());
    }

    [Fact]
    public async Task LabelsBatch_MissingLabels_Returns400NamingField()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        var (response, body) = await PostAsync(http, "v2/labels/batch", Batch(Event("\"p\"")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = Assert.Single(body.GetProperty("errors").EnumerateArray());
        Assert.Equal("labels", error.GetProperty("field").GetString());
    }

    [Fact]
    public async Task Models_AfterEventsLabelsAndDataset_CountsEach()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        await PostAsync(http, "v2/events/batch", Batch(Event("\"a\""), Event("\"b\""), Event("\"c\"", model: "other")));
        await PostAsync(http, "v2/labels/batch", Batch(Label("\"a\"", """{"y":1}""")));
        using var form = CsvForm(SampleCsv, datasetName: "training");
        using var upload = await http.PostAsync("v2/dataset/events/csv", form);
        await upload.Content.ReadAsStringAsync();

        var models = await emulator.Client.GetModelsAsync();

        Assert.Equal(
            [new EmulatorModelSummary("ws", "model", "1.0", 2, 1, 3), new EmulatorModelSummary("ws", "other", "1.0", 1, 0, 0)],
            models);
    }

    [Fact]
    public async Task Events_Paging_FollowsCursorInArrivalOrder()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        await PostAsync(http, "v2/events/batch", Batch([.. Enumerable.Range(0, 5).Select(i => Event($"\"e{i}\""))]));

        var first = await emulator.Client.GetEventsAsync(limit: 3);
        var second = await emulator.Client.GetEventsAsync(limit: 3, after: first.NextCursor);

        Assert.True(first.HasMore);
        Assert.False(second.HasMore);
        Assert.Equal(["e0", "e1", "e2", "e3", "e4"], first.Events.Concat(second.Events).Select(e => e.PredictionId.GetString()));
    }

    [Fact]
    public async Task Requests_AfterIngestion_MaskTheKey()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        await PostAsync(http, "v2/events/batch", Batch(Event("\"a\"")));

        using var raw = new HttpClient { BaseAddress = emulator.BaseUrl };
        var text = await raw.GetStringAsync("api/emulator/requests?limit=10");
        var requests = await emulator.Client.GetRequestsAsync(10);

        Assert.DoesNotContain(ApiKey, text, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiKey[..8], text, StringComparison.Ordinal);
        var request = Assert.Single(requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/mpm/v2/events/batch", request.Path);
        Assert.Equal(200, request.Status);
        Assert.Equal("test…(masked)", request.Headers["Authorization"]);
        Assert.True(request.BodySize > 100);
    }

    [Fact]
    public async Task ClearData_AfterIngestion_EmptiesTheStore()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        await PostAsync(http, "v2/events/batch", Batch(Event("\"a\"")));

        await emulator.Client.ClearAsync();

        Assert.Empty(await emulator.Client.GetModelsAsync());
        Assert.Empty((await emulator.Client.GetEventsAsync()).Events);
    }

    [Fact]
    public async Task BasePath_Custom_ServesUnderPrefixOnly()
    {
        await using var emulator = await MpmEmulator.StartAsync(new MpmEmulatorOptions { BasePath = "custom/mpm" });
        using var http = new HttpClient { BaseAddress = emulator.BaseUrl };
        http.DefaultRequestHeaders.Add("Authorization", ApiKey);

        var (custom, _) = await PostAsync(http, "custom/mpm/v2/events/batch", Batch(Event("\"a\"")));
        var (standard, _) = await PostAsync(http, "mpm/v2/events/batch", Batch(Event("\"b\"")));
        using var ping = await http.GetAsync("custom/mpm/isAlive/ping");

        Assert.Equal(new Uri(emulator.BaseUrl, "/custom/mpm/"), emulator.MpmBaseUrl);
        Assert.Equal(HttpStatusCode.OK, custom.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, standard.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
        Assert.Single((await emulator.Client.GetEventsAsync()).Events);
        Assert.Contains(await emulator.Client.GetRequestsAsync(), r => r.Path == "/mpm/v2/events/batch" && r.Status == 404);
    }

    [Fact]
    public async Task EventsBatch_WrongContentType_Returns415()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);

        using var response = await http.PostAsync("v2/events/batch", new StringContent(Batch(Event("\"a\""))));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    // Strings by value (escaping may differ), everything else by its literal text (keeps number precision).
    private static string Value(JsonElement e) =>
        e.ValueKind == JsonValueKind.String ? "string:" + e.GetString() : e.ValueKind + ":" + e.GetRawText();
}
