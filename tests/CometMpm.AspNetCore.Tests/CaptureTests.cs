using System.Net;
using System.Net.Http.Json;
using CometMpm.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CometMpm.AspNetCore.Tests;

public sealed class CaptureTests
{
    private static readonly Transaction SampleTransaction = new(129.5, "m-42", Channel.Store, true, new Address("Lisbon", "PT"), [10, 20], "4111", 13, "s3cret");

    [Fact]
    public async Task RecordBody_WithCometMpm_SendsFeaturesNamedAsTheSerializerNamesThem()
    {
        await using var app = await TestApp.StartAsync(a => a.MapPost("/score", (Transaction t) => new Score(0.91, "review")).WithCometMpm());

        var response = await app.Client.PostAsJsonAsync("/score", SampleTransaction);

        response.EnsureSuccessStatusCode();
        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["amount"] = "129.5",
                ["merchant_id"] = "m-42",
                ["channel"] = "Store",
                ["cardPresent"] = "True",
                ["address.city"] = "Lisbon",
                ["address.country"] = "PT",
                ["hour"] = "13",
            },
            e.Features());
        Assert.Equal(new Dictionary<string, string> { ["probability"] = "0.91", ["decision"] = "review" }, e.Outputs());
        Assert.Equal("fraud-detector", e.GetProperty("modelName").GetString());
        Assert.Contains(app.Logs.GetSnapshot(), r => r.Message.Contains("Transaction.RecentAmounts", StringComparison.Ordinal) && r.Message.Contains("collection", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ClassBody_WithPredictionIdPropertyAndOptedInCollection_UsesThePropertyAsIdAndFlattensTheCollection()
    {
        await using var app = await TestApp.StartAsync(a => a.MapPost("/loans", [CometMpmPrediction] ([FromBody] LoanApplication loan) => TypedResults.Ok(new Score(0.2, "approve")))
            .WithCometMpmAttributes());

        var response = await app.Client.PostAsJsonAsync("/loans", new LoanApplication { Income = 52000.5m, Age = 41, AppliedOn = new DateOnly(2025, 3, 4), ApplicationId = "app-77", Tags = ["new", "vip"] });

        response.EnsureSuccessStatusCode();
        Assert.Equal("app-77", response.Headers.GetValues("X-Prediction-Id").Single());
        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal("app-77", e.Id());
        Assert.Equal(
            new Dictionary<string, string> { ["income"] = "52000.5", ["age"] = "41", ["appliedOn"] = "2025-03-04", ["tags.0"] = "new", ["tags.1"] = "vip" },
            e.Features());
        Assert.Equal("approve", e.Outputs()["decision"]);
    }

    [Fact]
    public async Task AsParameters_RouteAndQuery_AreTheInput()
    {
        await using var app = await TestApp.StartAsync(a => a.MapGet("/risk/{country}", ([AsParameters] QueryInput input) => 0.5).WithCometMpm());

        (await app.Client.GetAsync("/risk/PT?amount=12.5")).EnsureSuccessStatusCode();

        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal(new Dictionary<string, string> { ["amount"] = "12.5", ["country"] = "PT" }, e.Features());
        Assert.Equal(new Dictionary<string, string> { ["value"] = "0.5" }, e.Outputs());
    }

    [Fact]
    public async Task ScalarParameters_WithoutAComplexInput_AreFeaturesByName()
    {
        await using var app = await TestApp.StartAsync(a => a.MapGet("/quote", (double amount, string country, HttpContext context) => new Score(amount / 100, country)).WithCometMpm());

        (await app.Client.GetAsync("/quote?amount=50&country=ES")).EnsureSuccessStatusCode();

        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal(new Dictionary<string, string> { ["amount"] = "50.0", ["country"] = "ES" }, e.Features());
    }

    [Theory]
    [InlineData("/plain")]
    [InlineData("/ok")]
    [InlineData("/union")]
    [InlineData("/created")]
    [InlineData("/task")]
    [InlineData("/valuetask")]
    [InlineData("/iresult")]
    public async Task EachResultShape_OutputFeaturesAreRead(string path)
    {
        await using var app = await TestApp.StartAsync(a =>
        {
            var api = a.MapGroup("").WithCometMpm();
            var score = new Score(0.7, "deny");
            api.MapPost("/plain", (Transaction t) => score);
            api.MapPost("/ok", (Transaction t) => TypedResults.Ok(score));
            api.MapPost("/union", Results<Ok<Score>, NotFound> (Transaction t) => t.Amount > 0 ? TypedResults.Ok(score) : TypedResults.NotFound());
            api.MapPost("/created", (Transaction t) => TypedResults.Created("/scores/1", score));
            api.MapPost("/task", async (Transaction t) =>
            {
                await Task.Yield();
                return score;
            });
            api.MapPost("/valuetask", (Transaction t) => new ValueTask<Ok<Score>>(TypedResults.Ok(score)));
            api.MapPost("/iresult", IResult (Transaction t) => Results.Ok(score));
        });

        var response = await app.Client.PostAsJsonAsync(path, SampleTransaction);

        response.EnsureSuccessStatusCode();
        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal(new Dictionary<string, string> { ["probability"] = "0.7", ["decision"] = "deny" }, e.Outputs());
        Assert.Equal("129.5", e.Features()["amount"]);
    }

    [Fact]
    public async Task RouteGroupWithAttributesOnly_CapturesOnlyAttributedHandlers()
    {
        await using var app = await TestApp.StartAsync(a =>
        {
            var api = a.MapGroup("/api").WithCometMpmAttributes();
            api.MapPost("/captured", [CometMpmPrediction] (Transaction t) => new Score(1, "a"));
            api.MapPost("/plain", (Transaction t) => new Score(0, "b"));
        });

        var captured = await app.Client.PostAsJsonAsync("/api/captured", SampleTransaction);
        var plain = await app.Client.PostAsJsonAsync("/api/plain", SampleTransaction);

        Assert.True(captured.Headers.Contains("X-Prediction-Id"));
        Assert.False(plain.Headers.Contains("X-Prediction-Id"));
        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal("a", e.Outputs()["decision"]);
    }

    [Fact]
    public async Task GroupAndEndpointBothWithCometMpm_CaptureOnceWithTheEndpointSettings()
    {
        await using var app = await TestApp.StartAsync(
            a => a.MapGroup("/g").WithCometMpm(o => o.ExcludeFeatures = ["amount"])
                .MapPost("/score", (Transaction t) => new Score(1, "a")).WithCometMpm("second"),
            models: ["second"]);

        (await app.Client.PostAsJsonAsync("/g/score", SampleTransaction)).EnsureSuccessStatusCode();

        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal("second", e.GetProperty("modelName").GetString());
        Assert.DoesNotContain("amount", e.Features().Keys);
    }

    [Fact]
    public async Task CaptureSettings_AreBoundFromTheCometMpmCaptureSection()
    {
        await using var app = await TestApp.StartAsync(
            a => a.MapPost("/score", (Transaction t) => new Score(1, "a")).WithCometMpm(),
            settings: new Dictionary<string, string?>
            {
                ["CometMpm:Capture:PredictionIdHeader"] = "X-Correlation-Id",
                ["CometMpm:Capture:ExcludeFeatures:0"] = "amount",
            });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/score") { Content = JsonContent.Create(SampleTransaction) };
        request.Headers.Add("X-Correlation-Id", "corr-1");

        var response = await app.Client.SendAsync(request);

        Assert.Equal("corr-1", response.Headers.GetValues("X-Correlation-Id").Single());
        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal("corr-1", e.Id());
        Assert.DoesNotContain("amount", e.Features().Keys);
    }

    [Fact]
    public async Task CaptureSettings_OutOfRange_FailStartNamingTheKey()
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => TestApp.StartAsync(
            a => a.MapPost("/score", (Transaction t) => new Score(1, "a")).WithCometMpm(),
            settings: new Dictionary<string, string?> { ["CometMpm:Capture:SampleRate"] = "1.5" }));

        Assert.Contains("CometMpm:Capture:SampleRate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PredictionIdHeader_IsUsedAndReturned()
    {
        await using var app = await TestApp.StartAsync(a => a.MapPost("/score", (Transaction t) => new Score(1, "a")).WithCometMpm());
        using var request = new HttpRequestMessage(HttpMethod.Post, "/score") { Content = JsonContent.Create(SampleTransaction) };
        request.Headers.Add("X-Prediction-Id", "txn-000981");

        var response = await app.Client.SendAsync(request);

        Assert.Equal("txn-000981", response.Headers.GetValues("X-Prediction-Id").Single());
        Assert.Equal("txn-000981", Assert.Single(await app.PredictionsAsync()).Id());
    }

    [Fact]
    public async Task NoPredictionId_GeneratesAVersion7UuidAndReturnsIt()
    {
        await using var app = await TestApp.StartAsync(
            a => a.MapPost("/score", (Transaction t) => new Score(1, "a")).WithCometMpm(),
            capture: o => o.PredictionIdHeader = "X-Request-Prediction");

        var response = await app.Client.PostAsJsonAsync("/score", SampleTransaction);

        var id = response.Headers.GetValues("X-Request-Prediction").Single();
        Assert.Equal(7, Guid.Parse(id).Version);
        Assert.Equal(id, Assert.Single(await app.PredictionsAsync()).Id());
    }

    [Fact]
    public async Task AllowAndDenyLists_FilterInputAndOutputFeatures()
    {
        await using var app = await TestApp.StartAsync(
            a =>
            {
                a.MapPost("/allow", (Transaction t) => new Score(1, "a")).WithCometMpm(o => o.IncludeFeatures = ["amount", "address", "probability"]);
                a.MapPost("/deny", [CometMpmPrediction(ExcludeFeatures = ["channel"])] (Transaction t) => new Score(1, "a")).WithCometMpm();
            },
            capture: o => o.ExcludeFeatures.Add("address.country"));

        var allow = await app.Client.PostAsJsonAsync("/allow", SampleTransaction);
        var deny = await app.Client.PostAsJsonAsync("/deny", SampleTransaction);

        var events = await app.PredictionsAsync();
        var allowed = events.Single(e => e.Id() == allow.Headers.GetValues("X-Prediction-Id").Single());
        var denied = events.Single(e => e.Id() == deny.Headers.GetValues("X-Prediction-Id").Single());
        Assert.Equal(["address.city", "amount"], allowed.Features().Keys.Order());
        Assert.Equal(["probability"], allowed.Outputs().Keys);
        Assert.Equal(["address.city", "amount", "cardPresent", "hour", "merchant_id"], denied.Features().Keys.Order());
    }

    [Fact]
    public async Task FailedResponses_AreNotCapturedByDefault_AndCarryTheStatusCodeWhenEnabled()
    {
        await using var app = await TestApp.StartAsync(a =>
        {
            a.MapPost("/default", Results<Ok<Score>, BadRequest> (Transaction t) => TypedResults.BadRequest()).WithCometMpm();
            a.MapPost("/captured", Results<Ok<Score>, NotFound> (Transaction t) => TypedResults.NotFound()).WithCometMpm(o => o.CaptureFailedResponses = true);
            a.MapPost("/ok", (Transaction t) => new Score(1, "a")).WithCometMpm(o => o.CaptureFailedResponses = true);
            a.MapPost("/throws", [CometMpmPrediction(CaptureFailedResponses = true)] Score (Transaction t) => throw new InvalidOperationException("model down")).WithCometMpm();
        });

        Assert.Equal(HttpStatusCode.BadRequest, (await app.Client.PostAsJsonAsync("/default", SampleTransaction)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client.PostAsJsonAsync("/captured", SampleTransaction)).StatusCode);
        await app.Client.PostAsJsonAsync("/ok", SampleTransaction);
        // Without an exception handler the test server hands the handler's exception to the caller, unchanged.
        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => app.Client.PostAsJsonAsync("/throws", SampleTransaction));
        Assert.Equal("model down", thrown.Message);

        var events = await app.PredictionsAsync();
        Assert.Equal(["200", "404", "500"], events.Select(e => e.Outputs()["status_code"]).Order());
        Assert.Equal(2, events.Count(e => e.Outputs().Count == 1));
        Assert.All(events, e => Assert.Equal("129.5", e.Features()["amount"]));
    }

    [Fact]
    public async Task HandlerThrows_TheExceptionHandlers500StillCarriesThePredictionIdHeader()
    {
        // An app's exception handler (UseExceptionHandler, the developer page) clears the response headers before it
        // writes the 500. (Without any handler Kestrel answers a bare 500 and runs no response callback: nothing can add
        // a header there.)
        await using var app = await TestApp.StartAsync(
            a =>
            {
                a.UseExceptionHandler(error => error.Run(context =>
                {
                    context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                    return Task.CompletedTask;
                }));
                a.MapPost("/throws", Score (Transaction t) => throw new InvalidOperationException("model down")).WithCometMpm(o => o.CaptureFailedResponses = true);
            },
            kestrel: true);

        var response = await app.Client.PostAsJsonAsync("/throws", SampleTransaction);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var id = Assert.Single(response.Headers.GetValues("X-Prediction-Id"));
        var captured = Assert.Single(await app.PredictionsAsync());
        Assert.Equal(id, captured.GetProperty("predictionId").GetString());
    }

    [Fact]
    public async Task TwoModels_EachEndpointLogsToItsModel()
    {
        await using var app = await TestApp.StartAsync(
            a =>
            {
                a.MapPost("/fraud", [CometMpmPrediction("fraud")] (Transaction t) => new Score(1, "a")).WithCometMpmAttributes();
                a.MapPost("/churn", (Transaction t) => new Score(0, "b")).WithCometMpm("churn");
                a.MapPost("/default", (Transaction t) => new Score(0, "c")).WithCometMpm();
            },
            models: ["fraud", "churn"]);

        foreach (var path in new[] { "/fraud", "/churn", "/default" })
        {
            (await app.Client.PostAsJsonAsync(path, SampleTransaction)).EnsureSuccessStatusCode();
        }

        var events = await app.PredictionsAsync();
        Assert.Equal("a", events.Single(e => e.GetProperty("modelName").GetString() == "fraud").Outputs()["decision"]);
        Assert.Equal("b", events.Single(e => e.GetProperty("modelName").GetString() == "churn").Outputs()["decision"]);
        Assert.Equal("c", events.Single(e => e.GetProperty("modelName").GetString() == "fraud-detector").Outputs()["decision"]);
    }

    [Fact]
    public async Task InputWithThrowingGetter_RequestStillSucceeds_AndTheErrorIsCountedAndLogged()
    {
        await using var app = await TestApp.StartAsync(a => a.MapPost("/score", ([FromBody] ThrowingInput input) => new Score(1, "a")).WithCometMpm());
        using var drops = app.CollectDrops();

        var first = await app.Client.PostAsJsonAsync("/score", new { good = 2 });
        var second = await app.Client.PostAsJsonAsync("/score", new { good = 3 });

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("{\"probability\":1,\"decision\":\"a\"}", await second.Content.ReadAsStringAsync());
        Assert.True(first.Headers.Contains("X-Prediction-Id"));
        Assert.Empty(await app.PredictionsAsync());
        Assert.Equal(2, drops.GetMeasurementSnapshot().Where(m => Equals(m.Tags["error.type"], "capture_error")).Sum(m => m.Value));
        Assert.Single(app.Logs.GetSnapshot(), r => r.Message.Contains("capture failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PredictionContext_HandlerAddsFeaturesOutputsAndLabels()
    {
        await using var app = await TestApp.StartAsync(a => a.MapPost("/score", (Transaction t, ICometMpmPredictionContext mpm) =>
        {
            mpm.AddFeature("customer_age_days", 812);
            mpm.AddFeature("amount", 1.0);
            mpm.AddOutput("raw_score", 0.123);
            mpm.AddLabel("source", "rules");
            mpm.AddOutput("ignored", new object());
            return new { id = mpm.PredictionId, captured = mpm.IsCaptured };
        }).WithCometMpm());

        var response = await app.Client.PostAsJsonAsync("/score", SampleTransaction);

        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal(e.Id(), body.GetProperty("id").GetString());
        Assert.True(body.GetProperty("captured").GetBoolean());
        Assert.Equal("812", e.Features()["customer_age_days"]);
        Assert.Equal("1.0", e.Features()["amount"]);
        Assert.Equal("0.123", e.Outputs()["raw_score"]);
        Assert.False(e.Outputs().ContainsKey("ignored"));
        Assert.Equal("rules", e.LabelMap()["source"]);
    }

    [Fact]
    public async Task DisabledClient_RequestsSucceedAndNothingIsSent()
    {
        await using var app = await TestApp.StartAsync(
            a => a.MapPost("/score", (Transaction t) => new Score(1, "a")).WithCometMpm(),
            settings: new Dictionary<string, string?> { ["CometMpm:Disabled"] = "true" });

        var response = await app.Client.PostAsJsonAsync("/score", SampleTransaction);

        response.EnsureSuccessStatusCode();
        Assert.True(response.Headers.Contains("X-Prediction-Id"));
        Assert.Empty(await app.PredictionsAsync());
    }

    [Fact]
    public async Task UnknownModel_FailsStartWithAClearMessage()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var app = await TestApp.StartAsync(a => a.MapPost("/score", (Transaction t) => new Score(1, "a")).WithCometMpm("nope"));
        });

        Assert.Contains("AddCometMpm(\"nope\"", error.Message, StringComparison.Ordinal);
    }
}
