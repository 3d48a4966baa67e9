using System.Net.Http.Json;
using CometMpm.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CometMpm.AspNetCore.Tests;

/// <summary>Issue 13: a client name capture cannot resolve fails start, naming the endpoint, the name and the registered names.</summary>
public sealed class CaptureStartupCheckTests
{
    public sealed record Loan(double Amount, int Term);

    private static async Task<InvalidOperationException> StartFailsAsync(Action<WebApplication> map, Action<CometMpmAspNetCoreOptions>? capture = null)
    {
        var failure = await Assert.ThrowsAnyAsync<InvalidOperationException>(async () =>
        {
            await using var app = await TestApp.StartAsync(map, capture, models: ["fraud"]);
        });
        return failure;
    }

    [Fact]
    public async Task WithCometMpm_UnknownModel_FailsStart_NamingTheEndpointTheNameAndTheRegisteredNames()
    {
        var failure = await StartFailsAsync(app =>
        {
            app.MapGet("/health", () => "ok");
            app.MapPost("/score", (Loan loan) => Results.Ok(new { score = loan.Amount / 1000 })).WithCometMpm(o => o.Model = "frud");
        });

        Assert.Contains("'frud'", failure.Message, StringComparison.Ordinal);
        Assert.Contains("/score", failure.Message, StringComparison.Ordinal);
        Assert.Contains("'fraud'", failure.Message, StringComparison.Ordinal);
        Assert.Contains("the default client", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PredictionAttribute_UnknownModel_FailsStart()
    {
        var failure = await StartFailsAsync(app => app.MapPost("/score", [CometMpmPrediction("frud")] (Loan loan) => Results.Ok(new { score = loan.Amount / 1000 })).WithCometMpmAttributes());

        Assert.Contains("'frud'", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LabelsEndpoint_UnknownModel_FailsStart()
    {
        var failure = await StartFailsAsync(app => app.MapCometMpmLabels(configure: o => o.Model = "frud"));

        Assert.Contains("'frud'", failure.Message, StringComparison.Ordinal);
        Assert.Contains("labels", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CaptureSection_UnknownModel_FailsStart()
    {
        var failure = await StartFailsAsync(app => app.MapGet("/health", () => "ok"), capture: o => o.Model = "frud");

        Assert.Contains("CometMpm:Capture", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KnownModel_Starts_AndServes()
    {
        await using var app = await TestApp.StartAsync(
            map => map.MapPost("/score", (Loan loan) => Results.Ok(new { score = loan.Amount / 1000 })).WithCometMpm(o => o.Model = "fraud"),
            models: ["fraud"]);

        var response = await app.Client.PostAsJsonAsync("/score", new Loan(5000, 12));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
