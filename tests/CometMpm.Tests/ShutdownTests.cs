using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CometMpm.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

public sealed class ShutdownTests
{
    [Fact]
    public async Task HostStop_With10000QueuedEvents_DeliversAll()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        for (var i = 0; i < 10_000; i++)
        {
            Assert.True(client.Mpm.LogEvent($"p{i}", Features(("i", i), ("s", "x"))).IsAccepted);
        }

        await client.Host.StopAsync();

        var ids = server.Batches.SelectMany(b => b.Events).Select(e => e.GetProperty("predictionId").GetString()).ToHashSet();
        Assert.Equal(10_000, ids.Count);
        Assert.Contains(client.Logs.GetSnapshot(), r => r.Message.Contains("every event was delivered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HostStop_UnreachableServer_FinishesWithinEndTimeout_AndLogsUnsentCount()
    {
        var deadPort = FreePort();
        var settings = Settings(new Uri($"http://127.0.0.1:{deadPort}/"));
        settings["CometMpm:EndTimeout"] = "00:00:02";
        settings["CometMpm:MaxRetryAttempts"] = "100";
        settings["CometMpm:RetryBaseDelay"] = "00:00:00.200";
        await using var client = await StartAsync(settings);

        for (var i = 0; i < 10; i++)
        {
            client.Mpm.LogEvent($"p{i}");
        }

        var stopwatch = Stopwatch.StartNew();
        await client.Host.StopAsync();
        stopwatch.Stop();

        // A behaviour bound, generous for a loaded CI machine: the stop must not wait for the 100 retries.
        Assert.InRange(stopwatch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(2 + 8));
        Assert.Contains(client.Logs.GetSnapshot(), r => r.Message.Contains("10 events were not sent", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EndAsync_ThenLog_IsRefusedAsEnded()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        using var dropped = client.Collect("cometmpm.events.dropped");

        client.Mpm.LogEvent("p1");
        Assert.True(await client.Mpm.EndAsync());
        var result = client.Mpm.LogEvent("p2");

        Assert.Equal(LogStatus.Ended, result.Status);
        Assert.Contains("ended", result.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("shutdown", Assert.Single(dropped.GetMeasurementSnapshot()).Tags["error.type"]);
        Assert.True(await client.Mpm.EndAsync()); // idempotent
        Assert.Single(server.Batches);
    }

    [Fact]
    public async Task LogBeforeHostStart_IsDeliveredByTheHostedSender()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, start: false);

        client.Mpm.LogEvent("early");
        await client.Host.StartAsync();
        await client.Host.StopAsync();

        Assert.Equal("early", Assert.Single(Assert.Single(server.Batches).Events).GetProperty("predictionId").GetString());
    }

    [Fact]
    public async Task OtherHostedServices_CanStillLogWhileStopping()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        Microsoft.Extensions.Configuration.MemoryConfigurationBuilderExtensions.AddInMemoryCollection(builder.Configuration, Settings(server.BaseUrl));
        builder.Services.AddHostedService<LogsOnStop>();
        builder.Services.AddCometMpm();
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();

        Assert.Contains(server.Batches.SelectMany(b => b.Events), e => e.GetProperty("predictionId").GetString() == "last-words");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class LogsOnStop(ICometMpm mpm) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken)
        {
            Assert.True(mpm.LogEvent("last-words").IsAccepted);
            return Task.CompletedTask;
        }
    }
}
