using System.Net;
using System.Net.Http.Json;
using System.Text;
using CometMpm.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;

namespace CometMpm.AspNetCore.Tests;

public sealed class LabelsAndSamplingTests
{
    private static readonly Transaction Input = new(10, "m-1", Channel.Web, false, null, [], null, 9, null);

    [Fact]
    public async Task LabelsEndpoint_JsonObject_Is202AndLoggedAsALabel()
    {
        await using var app = await TestApp.StartAsync(a => a.MapCometMpmLabels());

        var response = await app.Client.PostAsync("/predictions/txn-1/labels", Json("{\"is_fraud\":true,\"amount_lost\":12.5,\"count\":3,\"note\":\"chargeback\",\"missing\":null}"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("txn-1", response.Headers.GetValues("X-Prediction-Id").Single());
        var label = Assert.Single(await app.LabelsAsync());
        Assert.Equal("txn-1", label.Id());
        Assert.Equal(
            new Dictionary<string, string> { ["is_fraud"] = "True", ["amount_lost"] = "12.5", ["count"] = "3", ["note"] = "chargeback", ["missing"] = "" },
            label.LabelMap());
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[1,2]", "must be a JSON object")]
    [InlineData("{\"a\":{\"b\":1}}", "'a' is an object")]
    [InlineData("{}", "no labels")]
    [InlineData("", "not valid JSON")]
    public async Task LabelsEndpoint_BadBody_Is400WithAClearMessage(string body, string message)
    {
        await using var app = await TestApp.StartAsync(a => a.MapCometMpmLabels("/labels/{predictionId}"));

        var response = await app.Client.PostAsync("/labels/txn-1", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(message, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await app.LabelsAsync());
    }

    [Fact]
    public void MapCometMpmLabels_PatternWithoutPredictionId_Throws()
    {
        var app = WebApplication.CreateSlimBuilder().Build();
        Assert.Throws<ArgumentException>(() => app.MapCometMpmLabels("/labels/{id}"));
    }

    [Fact]
    public void Sampler_IsDeterministicAndNearTheRate()
    {
        var ids = Enumerable.Range(0, 20_000).Select(i => $"txn-{i:D6}").ToArray();
        var sampled = ids.Count(id => CometMpmSampler.IsSampled(id, 0.25));
        Assert.InRange(sampled, 4_700, 5_300);
        Assert.All(ids.Take(200), id => Assert.Equal(CometMpmSampler.IsSampled(id, 0.25), CometMpmSampler.IsSampled(id, 0.25)));
        Assert.All(ids.Take(200), id => Assert.True(!CometMpmSampler.IsSampled(id, 0.1) || CometMpmSampler.IsSampled(id, 0.25)));
        Assert.True(CometMpmSampler.IsSampled("x", 1));
        Assert.False(CometMpmSampler.IsSampled("x", 0));
    }

    [Fact]
    public async Task Sampling_1000Ids_AtRateQuarter_CapturesAbout250_AndLabelsFollowTheirPredictions()
    {
        await using var app = await TestApp.StartAsync(
            a =>
            {
                a.MapPost("/score", (Transaction t) => new Score(1, "a")).WithCometMpm();
                a.MapCometMpmLabels();
            },
            capture: o => o.SampleRate = 0.25);
        using var drops = app.CollectDrops();

        var ids = Enumerable.Range(0, 1000).Select(i => $"req-{i}").ToArray();
        foreach (var id in ids)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/score") { Content = JsonContent.Create(Input) };
            request.Headers.Add("X-Prediction-Id", id);
            var response = await app.Client.SendAsync(request);
            Assert.Equal(id, response.Headers.GetValues("X-Prediction-Id").Single());
        }

        var captured = (await app.PredictionsAsync()).Select(e => e.Id()).ToHashSet();
        Assert.InRange(captured.Count, 200, 300);
        Assert.Equal(ids.Where(id => CometMpmSampler.IsSampled(id, 0.25)).ToHashSet(), captured);

        var inId = ids.First(captured.Contains);
        var outId = ids.First(id => !captured.Contains(id));
        Assert.Equal(HttpStatusCode.Accepted, (await app.Client.PostAsync($"/predictions/{inId}/labels", Json("{\"y\":1}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await app.Client.PostAsync($"/predictions/{outId}/labels", Json("{\"y\":0}"))).StatusCode);

        Assert.Equal([inId], (await app.LabelsAsync()).Select(e => e.Id()));
        Assert.Equal(1000 - captured.Count + 1, drops.GetMeasurementSnapshot().Where(m => Equals(m.Tags["error.type"], "sampled_out")).Sum(m => m.Value));
    }

    [Fact]
    public async Task SampleRateZero_OnTheAttribute_CapturesNothingButStillReturnsTheId()
    {
        await using var app = await TestApp.StartAsync(a => a.MapPost("/score", [CometMpmPrediction(SampleRate = 0)] (Transaction t, ICometMpmPredictionContext mpm) => mpm.IsCaptured).WithCometMpm());

        var response = await app.Client.PostAsJsonAsync("/score", Input);

        Assert.Equal("false", await response.Content.ReadAsStringAsync());
        Assert.True(response.Headers.Contains("X-Prediction-Id"));
        Assert.Empty(await app.PredictionsAsync());
    }

    [Theory]
    [InlineData("pr%C3%A9diction-%C3%A9t%C3%A9", "prédiction-été")]
    [InlineData("txn%01control", "txn\u0001control")]
    public async Task LabelsEndpoint_IdThatNoHeaderCanCarry_Is202AndTheLabelIsLogged(string path, string id)
    {
        await using var app = await TestApp.StartAsync(a => a.MapCometMpmLabels(), kestrel: true);

        var response = await app.Client.PostAsync($"/predictions/{path}/labels", Json("{\"y\":1}"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var label = Assert.Single(await app.LabelsAsync());
        Assert.Equal(id, label.GetProperty("predictionId").GetString());
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task LabelsEndpoint_NotJson_Is415_AndNothingIsLogged(string contentType)
    {
        await using var app = await TestApp.StartAsync(a => a.MapCometMpmLabels());

        var response = await app.Client.PostAsync("/predictions/txn-1/labels", new StringContent("{\"y\":1}", Encoding.UTF8, contentType));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Empty(await app.LabelsAsync());
    }

    [Fact]
    public async Task DefaultLabelsEndpoint_SamplesLikeTheCapturedEndpointOfItsClient()
    {
        // The rate is set on the endpoint only: the global rate stays 1, and the labels endpoint is given none.
        await using var app = await TestApp.StartAsync(a =>
        {
            a.MapPost("/score", (Transaction t) => new Score(1, "a")).WithCometMpm(o => o.SampleRate = 0.25);
            a.MapCometMpmLabels();
        });
        using var drops = app.CollectDrops();
        var ids = Enumerable.Range(0, 200).Select(i => $"lab-{i}").ToArray();
        var outIds = ids.Where(id => !CometMpmSampler.IsSampled(id, 0.25)).ToArray();
        var inId = ids.First(id => CometMpmSampler.IsSampled(id, 0.25));

        foreach (var id in outIds.Take(5).Append(inId))
        {
            Assert.Equal(HttpStatusCode.Accepted, (await app.Client.PostAsync($"/predictions/{id}/labels", Json("{\"y\":1}"))).StatusCode);
        }

        Assert.Equal([inId], (await app.LabelsAsync()).Select(e => e.Id()));
        Assert.Equal(5, drops.GetMeasurementSnapshot().Where(m => Equals(m.Tags["error.type"], "sampled_out")).Sum(m => m.Value));
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}

public sealed class PredictionIdTests
{
    [Fact]
    public void NewUuidV7_IsVersion7WithTheRfcVariantAndTheCurrentMillisecond()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2025, 6, 1, 12, 0, 0, 123, TimeSpan.Zero));

        var ids = Enumerable.Range(0, 1000).Select(_ => Capture.PredictionIds.NewUuidV7(time)).ToArray();

        Assert.Equal(1000, ids.Distinct().Count());
        Assert.All(ids, id =>
        {
            var guid = Guid.Parse(id);
            Assert.Equal(7, guid.Version);
            Assert.Equal(0b1000, guid.Variant & 0b1100);
            Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), Convert.ToInt64(id.Replace("-", "", StringComparison.Ordinal)[..12], 16));
        });
    }
}
