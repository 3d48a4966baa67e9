using System.Net;
using System.Net.Sockets;
using CometMpm.Tests.Infrastructure;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

public sealed class StartupPingTests
{
    [Theory]
    [InlineData(500, "isn't working as expected")]
    [InlineData(404, "doesn't seem to be installed")]
    public async Task PingError_DisablesTheClient_LikeThePythonSdk(int status, string expected)
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        server.PingStatus = status;
        await using var client = await StartAsync(server);
        await client.Client.HealthChecked;

        var result = client.Mpm.LogEvent("p1");

        Assert.Equal(LogStatus.Disabled, result.Status);
        var error = Assert.Single(client.Mpm.GetLoggingErrors());
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(client.Logs.GetSnapshot(), r => r.Message.Contains("connection failed during initialization", StringComparison.OrdinalIgnoreCase));
        Assert.Single(server.Requests); // the ping only, not retried
    }

    [Fact]
    public async Task SlowFailingPing_EventsAcceptedBeforeIt_AreDroppedAsDisabled_NotSentNorKeptInTheOutbox()
    {
        var outbox = Path.Combine(Path.GetTempPath(), "cometmpm-disabled-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var server = await ScriptedMpmServer.StartAsync();
            server.PingStatus = 404;
            server.PingDelay = TimeSpan.FromMilliseconds(800);
            await using var client = await StartAsync(server, settings: new Dictionary<string, string?>
            {
                ["CometMpm:Outbox:Directory"] = outbox,
                ["CometMpm:Outbox:SpillInterval"] = "00:00:00.100",
                ["CometMpm:MaxBatchTime"] = "00:00:00.050",
            });

            // Accepted while the start-up check is still waiting: the worker holds (or journals) them, sends nothing.
            for (var i = 0; i < 20; i++)
            {
                Assert.True(client.Mpm.LogEvent($"d-{i}").IsAccepted);
            }

            await client.Client.HealthChecked.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.False(await client.Mpm.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10)));
            await client.Mpm.EndAsync().WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Empty(server.Batches);
            var ledger = client.Client.Ledger;
            Assert.Equal(0, ledger.Unaccounted);
            Assert.Equal(0, ledger.InOutbox);
            Assert.Equal(20, ledger.Dropped.GetValueOrDefault("disabled"));
        }
        finally
        {
            if (Directory.Exists(outbox))
            {
                Directory.Delete(outbox, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Ping401_StopsSendingAsUnauthorized_AndReportsUnhealthy()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        server.PingStatus = 401;
        await using var client = await StartAsync(server);
        using var dropped = client.Collect("cometmpm.events.dropped");
        await client.Client.HealthChecked;

        client.Mpm.LogEvent("p1");
        Assert.False(await client.Mpm.FlushAsync());

        Assert.Equal("unauthorized", Assert.Single(dropped.GetMeasurementSnapshot()).Tags["error.type"]);
        Assert.Contains(client.Mpm.GetLoggingErrors(), e => e.Message.Contains("refused the API key", StringComparison.Ordinal));
        Assert.Single(server.Requests); // the ping only
        Assert.Equal(Delivery.CometMpmHealth.Unhealthy, client.Client.CheckHealth().Status);
    }

    [Theory]
    [InlineData(503)]
    [InlineData(429)]
    public async Task PingTemporarilyUnavailable_KeepsTheClientEnabled(int status)
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        server.PingStatus = status;
        await using var client = await StartAsync(server);
        await client.Client.HealthChecked;

        Assert.True(client.Mpm.LogEvent("p1").IsAccepted);
        Assert.True(await client.Mpm.FlushAsync());
    }

    [Fact]
    public async Task PingError_WithRaiseOnErrorDuringInit_FailsStart()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        server.PingStatus = 500;
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:RaiseOnErrorDuringInit"] = "true" }, start: false);

        var ex = await Assert.ThrowsAsync<CometMpmBackendException>(() => client.Host.StartAsync());
        Assert.Equal(500, ex.StatusCode);
    }

    [Fact]
    public async Task UnreachableBackend_WithRaise_FailsStartWithinThePingTimeout()
    {
        var settings = Settings(new Uri($"http://127.0.0.1:{DeadPort()}/"));
        settings["CometMpm:RaiseOnErrorDuringInit"] = "true";
        settings["CometMpm:PingTimeout"] = "00:00:01";
        await using var client = await StartAsync(settings, start: false);

        var ex = await Assert.ThrowsAsync<CometMpmBackendNotAvailableException>(() => client.Host.StartAsync());
        Assert.Contains("Could not reach the MPM backend", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachableBackend_WithoutRaise_KeepsTheClientEnabled()
    {
        var settings = Settings(new Uri($"http://127.0.0.1:{DeadPort()}/"));
        settings["CometMpm:PingTimeout"] = "00:00:01";
        await using var client = await StartAsync(settings);
        await client.Client.HealthChecked;

        Assert.True(client.Mpm.LogEvent("p1").IsAccepted);
        Assert.Contains(client.Logs.GetSnapshot(), r => r.Message.Contains("could not reach the backend", StringComparison.Ordinal));
        await client.Mpm.EndAsync(TimeSpan.FromMilliseconds(100));
    }

    internal static int DeadPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public sealed class SecretTests
{
    /// <summary>Runs every failure path the client has and scans everything it logged and reported for the key.</summary>
    [Fact]
    public async Task ApiKey_NeverAppearsInLogsErrorsOrExceptions()
    {
        const string Secret = "sk-live-9f8e7d6c5b4a";
        var texts = new List<string>();

        async Task Scenario(Action<ScriptedMpmServer> script, Dictionary<string, string?>? extra = null, bool expectStartFailure = false)
        {
            await using var server = await ScriptedMpmServer.StartAsync();
            script(server);
            var settings = Settings(server.BaseUrl);
            settings["CometMpm:ApiKey"] = Secret + "*" + "bm90LWpzb24"; // "not-json": an unparseable suffix warns
            settings["CometMpm:MaxRetryAttempts"] = "1";
            foreach (var (k, v) in extra ?? [])
            {
                settings[k] = v;
            }

            await using var client = await StartAsync(settings, start: false);
            var started = false;
            try
            {
                await client.Host.StartAsync();
                started = true;
                client.Mpm.LogEvent("p1", Features(("a", 1)));
                client.Mpm.LogEvent("", null);
                client.Mpm.LogLabel("p1", null);
                await client.Mpm.FlushAsync();
                await client.Mpm.EndAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception ex)
            {
                Assert.True(expectStartFailure, ex.ToString());
                texts.Add(ex.ToString());
            }

            texts.AddRange(client.Logs.GetSnapshot().Select(r => r.Message + " " + r.Exception + " " + string.Join(";", r.StructuredState?.Select(s => s.Value) ?? [])));
            if (started)
            {
                texts.AddRange(client.Mpm.GetLoggingErrors().Select(e => e.Message + string.Join(",", e.AffectedPredictionIds)));
            }
        }

        await Scenario(_ => { });
        await Scenario(s => s.Enqueue(new ScriptedResponse(400), new ScriptedResponse(401), new ScriptedResponse(503), new ScriptedResponse(503)));
        await Scenario(s => s.PingStatus = 401);
        await Scenario(s => s.PingStatus = 500, new() { ["CometMpm:RaiseOnErrorDuringInit"] = "true" }, expectStartFailure: true);
        await Scenario(_ => { }, new() { ["CometMpm:UrlOverride"] = $"http://127.0.0.1:{StartupPingTests.DeadPort()}/", ["CometMpm:PingTimeout"] = "00:00:00.500" });
        await Scenario(_ => { }, new() { ["CometMpm:MaxBatchSize"] = "0" }, expectStartFailure: true);

        Assert.NotEmpty(texts);
        Assert.Contains(texts, t => t.Contains("HTTP 401", StringComparison.Ordinal));
        Assert.All(texts, t => Assert.DoesNotContain(Secret, t, StringComparison.Ordinal));
    }
}
