using System.Net.Http.Json;
using CometMpm.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CometMpm.AspNetCore.Tests;

/// <summary>
/// Capture costs a request no dependency-injection scope of its own: the request's scope is created on the first read of
/// <see cref="HttpContext.RequestServices"/>, so a captured endpoint must read it no more often than the same endpoint
/// uncaptured, unless the application uses <see cref="ICometMpmPredictionContext"/>.
/// </summary>
public sealed class RequestScopeTests
{
    private static readonly Transaction Input = new(10, "m-1", Channel.Web, false, null, [], null, 9, null);

    [Fact]
    public async Task CapturedEndpoint_ReadsRequestServicesNoMoreThanUncaptured()
    {
        await using var app = await TestApp.StartAsync(a =>
        {
            a.Use((http, next) => CountRequestServicesReads(http, next, a.Services.GetRequiredService<IServiceScopeFactory>()));
            a.MapPost("/plain", (Transaction t) => new Score(0.91, "review"));
            a.MapPost("/captured", (Transaction t) => new Score(0.91, "review")).WithCometMpm();
        });

        var plain = await ReadsAsync(app, "/plain");
        var captured = await ReadsAsync(app, "/captured");

        Assert.Equal(plain, captured);
        Assert.Single(await app.PredictionsAsync());
    }

    [Fact]
    public async Task PredictionContext_ResolvedInsideTheHandlerAfterCaptureBegan_ItsAdditionsAreSentEveryTime()
    {
        await using var app = await TestApp.StartAsync(a => a.MapPost("/score", (Transaction t, HttpContext http) =>
        {
            // Resolved after the capture filter began: no handler parameter announced it.
            var mpm = http.RequestServices.GetRequiredService<ICometMpmPredictionContext>();
            mpm.AddFeature("late_feature", 7);
            mpm.AddOutput("late_output", "x");
            return new Score(0.5, "ok");
        }).WithCometMpm());

        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var response = await app.Client.PostAsJsonAsync("/score", Input);
            response.EnsureSuccessStatusCode();
            ids.Add(response.Headers.GetValues("X-Prediction-Id").Single());
        }

        var events = await app.PredictionsAsync();
        Assert.Equal(ids.Order(), events.Select(e => e.Id()).Order());
        Assert.All(events, e => Assert.Equal("7", e.Features()["late_feature"]));
        Assert.All(events, e => Assert.Equal("x", e.Outputs()["late_output"]));
    }

    [Fact]
    public async Task PredictionContext_AsAHandlerParameter_KnowsTheIdFromTheFirstRequest()
    {
        await using var app = await TestApp.StartAsync(a => a.MapPost("/score", (Transaction t, ICometMpmPredictionContext mpm) =>
        {
            mpm.AddFeature("from_context", true);
            return new { id = mpm.PredictionId, captured = mpm.IsCaptured };
        }).WithCometMpm());

        var response = await app.Client.PostAsJsonAsync("/score", Input);

        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.Equal(response.Headers.GetValues("X-Prediction-Id").Single(), body.GetProperty("id").GetString());
        Assert.True(body.GetProperty("captured").GetBoolean());
        Assert.Equal("True", Assert.Single(await app.PredictionsAsync()).Features()["from_context"]);
    }

    [Fact]
    public void PredictionContext_NeverStarted_KeepsABoundedNumberOfAdditions()
    {
        // A context used outside any request (a long-lived scope of a background service) must not grow forever.
        var context = new Capture.PredictionContext();
        for (var i = 0; i < 10_000; i++)
        {
            context.AddFeature("f", i);
        }

        Assert.Equal(256, context.Features!.Count);
        Assert.False(context.IsCaptured);
    }

    private static async Task<int> ReadsAsync(TestApp app, string path)
    {
        var response = await app.Client.PostAsJsonAsync(path, Input);
        response.EnsureSuccessStatusCode();
        return int.Parse(response.Headers.GetValues("X-Services-Reads").Single(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Task CountRequestServicesReads(HttpContext http, RequestDelegate next, IServiceScopeFactory scopes)
    {
        // The framework's own lazily created feature, wrapped: the scope is created on its first read.
        var inner = new RequestServicesFeature(http, scopes);
        http.Response.RegisterForDisposeAsync(inner);
        var counting = new CountingServiceProvidersFeature(inner);
        http.Features.Set<IServiceProvidersFeature>(counting);
        http.Response.OnStarting(() =>
        {
            http.Response.Headers["X-Services-Reads"] = counting.Reads.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        });
        return next(http);
    }

    private sealed class CountingServiceProvidersFeature(IServiceProvidersFeature inner) : IServiceProvidersFeature
    {
        public int Reads;

        public IServiceProvider RequestServices
        {
            get
            {
                // Only reads made before the response starts: the counter is sent in a response header.
                Interlocked.Increment(ref Reads);
                return inner.RequestServices;
            }

            set => inner.RequestServices = value;
        }
    }
}
