using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using CometMpm.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;

namespace CometMpm.AspNetCore.Tests;

/// <summary>A captured prediction is one search away from its request's trace, as an OpenTelemetry user would look for it.</summary>
public sealed class TracingTests : IDisposable
{
    private static readonly Transaction Input = new(10, "m-1", Channel.Web, false, null, [], null, 9, null);
    private readonly ConcurrentQueue<Activity> _requests = new();
    private readonly ActivityListener _listener;

    public TracingTests()
    {
        // What AddAspNetCoreInstrumentation listens to: the hosting's request activity.
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _requests.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    [Fact]
    public async Task CapturedRequest_ItsActivityCarriesThePredictionIdAndTheClient()
    {
        await using var app = await TestApp.StartAsync(a => a.MapPost("/score", (Transaction t) => new Score(0.91, "review")).WithCometMpm());

        var response = await app.Client.PostAsJsonAsync("/score", Input);

        response.EnsureSuccessStatusCode();
        var id = response.Headers.GetValues("X-Prediction-Id").Single();
        var request = await RequestActivityAsync(id);
        Assert.Equal("default", request.GetTagItem("cometmpm.client"));
        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal(id, e.Id());
        Assert.DoesNotContain("trace_id", e.Features().Keys); // off by default: a feature of unbounded cardinality
    }

    [Fact]
    public async Task SendTraceId_TheEventCarriesTheRequestsTraceId()
    {
        await using var app = await TestApp.StartAsync(
            a => a.MapPost("/score", (Transaction t) => new Score(0.91, "review")).WithCometMpm(),
            capture: o => o.SendTraceId = true);

        var response = await app.Client.PostAsJsonAsync("/score", Input);

        response.EnsureSuccessStatusCode();
        var request = await RequestActivityAsync(response.Headers.GetValues("X-Prediction-Id").Single());
        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal(request.TraceId.ToHexString(), e.Features()["trace_id"]);
    }

    [Fact]
    public async Task SendTraceId_WithoutATrace_AFeatureOfTheSameNameKeepsItsValue()
    {
        await using var app = await TestApp.StartAsync(
            a =>
            {
                a.Use((http, next) =>
                {
                    Activity.Current = null; // a request nobody traces
                    return next(http);
                });
                a.MapPost("/score", (TracedInput t) => new Score(0.5, "ok")).WithCometMpm();
            },
            capture: o => o.SendTraceId = true);

        var response = await app.Client.PostAsJsonAsync("/score", new TracedInput("from-the-client", 2.5));

        response.EnsureSuccessStatusCode();
        var e = Assert.Single(await app.PredictionsAsync());
        Assert.Equal("from-the-client", e.Features()["trace_id"]);
        Assert.Equal("2.5", e.Features()["x"]);
    }

    private async Task<Activity> RequestActivityAsync(string predictionId)
    {
        // The activity stops after the response is sent: wait for it briefly.
        for (var i = 0; i < 100; i++)
        {
            if (_requests.FirstOrDefault(a => (string?)a.GetTagItem("cometmpm.prediction_id") == predictionId) is { } found)
            {
                return found;
            }

            await Task.Delay(20);
        }

        throw new Xunit.Sdk.XunitException($"no request activity tagged cometmpm.prediction_id={predictionId} among {_requests.Count} stopped requests");
    }

    public void Dispose() => _listener.Dispose();
}

/// <summary>An input that carries a feature named like the trace id feature.</summary>
public sealed record TracedInput(
    [property: System.Text.Json.Serialization.JsonPropertyName("trace_id")] string TraceId,
    [property: System.Text.Json.Serialization.JsonPropertyName("x")] double X);
