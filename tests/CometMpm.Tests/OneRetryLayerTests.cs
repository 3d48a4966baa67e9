using CometMpm.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CometMpm.Tests;

/// <summary>Issue 13: an app's resilience handlers for every client do not add a second retry layer to ours.</summary>
public sealed class OneRetryLayerTests
{
    [Fact]
    public async Task StandardResilienceHandlerInTheDefaults_IsNotAppliedToTheCometMpmClient_OneBatchIsTriedMaxRetryAttemptsPlusOneTimes()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        server.Enqueue([.. Enumerable.Repeat(new ScriptedResponse(503), 50)]);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var settings = TestClient.Settings(server.BaseUrl);
        settings["CometMpm:MaxRetryAttempts"] = "1";
        settings["CometMpm:CircuitBreakDuration"] = "00:10:00";
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.ConfigureHttpClientDefaults(http => http.AddStandardResilienceHandler());
        builder.Services.AddCometMpm();
        using var host = builder.Build();
        await host.StartAsync();
        var mpm = host.Services.GetRequiredService<ICometMpm>();
        using var retried = new MetricTotals(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "cometmpm.requests.retried");

        Assert.True(mpm.LogEvent("r-1").IsAccepted);
        Assert.False(await mpm.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30)));

        // The client's own policy: the first attempt and one retry. With the standard handler in front it was 6 or more.
        Assert.Equal(2, server.Batches.Count);
        Assert.Equal(1, retried.Total());
        await host.StopAsync();
    }
}
