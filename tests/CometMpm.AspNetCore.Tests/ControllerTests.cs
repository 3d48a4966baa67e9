using System.Net;
using System.Net.Http.Json;
using CometMpm.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc;

namespace CometMpm.AspNetCore.Tests;

[ApiController]
[Route("mvc")]
public sealed class ScoringController : ControllerBase
{
    [HttpPost("score")]
    [CometMpmPrediction]
    public ActionResult<Score> Score(Transaction transaction) => new Score(0.3, transaction.Channel.ToString());

    [HttpPost("missing")]
    [CometMpmPrediction(CaptureFailedResponses = true)]
    public IActionResult Missing(Transaction transaction) => NotFound();

    [HttpPost("async")]
    [CometMpmPrediction("fraud", SampleRate = 1)]
    public async Task<IActionResult> ScoreAsync([FromBody] Transaction transaction, [FromServices] ICometMpmPredictionContext mpm)
    {
        await Task.Yield();
        mpm.AddOutput("handler_ms", 3);
        return Ok(new Score(0.9, "deny"));
    }

    [HttpPost("plain")]
    public Score NotCaptured(Transaction transaction) => new(0, "none");
}

[ApiController]
[Route("mvc-class")]
[CometMpmPrediction(ExcludeFeatures = ["amount"])]
public sealed class ClassLevelController : ControllerBase
{
    [HttpPost("a")]
    public Score A(Transaction transaction) => new(0.1, "class");

    [HttpPost("b")]
    [CometMpmPrediction(IncludeFeatures = ["amount"])]
    public Score B(Transaction transaction) => new(0.2, "action");
}

public sealed class ControllerTests
{
    private static readonly Transaction Input = new(10, "m-1", Channel.Web, false, null, [], null, 9, null);

    [Fact]
    public async Task AttributedActions_AreCaptured_OthersAreNot()
    {
        await using var app = await TestApp.StartAsync(_ => { }, mvc: true, models: ["fraud"]);

        var score = await app.Client.PostAsJsonAsync("/mvc/score", Input);
        var missing = await app.Client.PostAsJsonAsync("/mvc/missing", Input);
        var async = await app.Client.PostAsJsonAsync("/mvc/async", Input);
        var plain = await app.Client.PostAsJsonAsync("/mvc/plain", Input);

        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.False(plain.Headers.Contains("X-Prediction-Id"));
        var events = await app.PredictionsAsync();
        Assert.Equal(3, events.Count);
        var s = events.Single(e => e.Id() == score.Headers.GetValues("X-Prediction-Id").Single());
        Assert.Equal(new Dictionary<string, string> { ["probability"] = "0.3", ["decision"] = "Web" }, s.Outputs());
        Assert.Equal("10.0", s.Features()["amount"]);
        Assert.Equal("", s.Features()["address.city"]);
        var m = events.Single(e => e.Id() == missing.Headers.GetValues("X-Prediction-Id").Single());
        Assert.Equal(new Dictionary<string, string> { ["status_code"] = "404" }, m.Outputs());
        var a = events.Single(e => e.Id() == async.Headers.GetValues("X-Prediction-Id").Single());
        Assert.Equal("fraud", a.GetProperty("modelName").GetString());
        Assert.Equal("3", a.Outputs()["handler_ms"]);
    }

    [Fact]
    public async Task ControllerAndActionAttributes_TheActionsWins_AndEachRequestIsCapturedOnce()
    {
        await using var app = await TestApp.StartAsync(_ => { }, mvc: true, models: ["fraud"]); // the assembly's other controllers name "fraud": start checks them all

        (await app.Client.PostAsJsonAsync("/mvc-class/a", Input)).EnsureSuccessStatusCode();
        (await app.Client.PostAsJsonAsync("/mvc-class/b", Input)).EnsureSuccessStatusCode();

        var events = await app.PredictionsAsync();
        Assert.Equal(2, events.Count);
        var a = events.Single(e => e.Outputs().ContainsKey("decision"));
        Assert.Equal("class", a.Outputs()["decision"]);
        Assert.DoesNotContain("amount", a.Features().Keys);

        // The action's allow-list replaces the controller's settings and applies to outputs too.
        var b = events.Single(e => !e.Outputs().ContainsKey("decision"));
        Assert.Equal(["amount"], b.Features().Keys);
    }
}
