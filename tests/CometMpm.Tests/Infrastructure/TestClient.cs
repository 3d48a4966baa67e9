using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace CometMpm.Tests.Infrastructure;

/// <summary>A real host with <c>AddCometMpm()</c> pointed at a local server, with captured logs and metrics.</summary>
public sealed class TestClient : IAsyncDisposable
{
    public const string ApiKey = "test-api-key-3f9c2d71";

    private TestClient(IHost host)
    {
        Host = host;
        Logs = host.Services.GetFakeLogCollector();

        // Started before the client exists, so that they see everything it counts (LedgerAssert reads them).
        var meters = host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        Enqueued = new MetricTotals(meters, "cometmpm.events.enqueued");
        Sent = new MetricTotals(meters, "cometmpm.events.sent");
        Dropped = new MetricTotals(meters, "cometmpm.events.dropped");
        Spilled = new MetricTotals(meters, "cometmpm.events.spilled");
    }

    public IHost Host { get; }

    public ICometMpm Mpm => Host.Services.GetRequiredService<ICometMpm>();

    internal CometMpmClient Client => (CometMpmClient)Mpm;

    public FakeLogCollector Logs { get; }

    /// <summary><c>cometmpm.events.enqueued</c> since the host was built.</summary>
    public MetricTotals Enqueued { get; }

    /// <summary><c>cometmpm.events.sent</c> since the host was built.</summary>
    public MetricTotals Sent { get; }

    /// <summary><c>cometmpm.events.dropped</c> (all reasons) since the host was built.</summary>
    public MetricTotals Dropped { get; }

    /// <summary><c>cometmpm.events.spilled</c> since the host was built.</summary>
    public MetricTotals Spilled { get; }

    public MetricCollector<long> Collect(string instrument) =>
        new(Host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "CometMpm", instrument);

    public static Dictionary<string, string?> Settings(Uri server) => new()
    {
        ["CometMpm:ApiKey"] = ApiKey,
        ["CometMpm:WorkspaceName"] = "payments",
        ["CometMpm:ModelName"] = "fraud-detector",
        ["CometMpm:ModelVersion"] = "2.3.0",
        ["CometMpm:UrlOverride"] = server.ToString(),
        ["CometMpm:RetryBaseDelay"] = "00:00:00.010",
    };

    public static Task<TestClient> StartAsync(
        ScriptedMpmServer server,
        Action<CometMpmOptions>? configure = null,
        TimeProvider? timeProvider = null,
        IDictionary<string, string?>? settings = null,
        bool start = true) =>
        StartAsync(Settings(server.BaseUrl), configure, timeProvider, settings, start);

    public static async Task<TestClient> StartAsync(
        Dictionary<string, string?> baseSettings,
        Action<CometMpmOptions>? configure = null,
        TimeProvider? timeProvider = null,
        IDictionary<string, string?>? settings = null,
        bool start = true)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            baseSettings[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(baseSettings);
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Logging.AddFakeLogging();
        if (timeProvider is not null)
        {
            builder.Services.AddSingleton(timeProvider);
        }

        builder.Services.AddHealthChecks().AddCometMpm();
        if (configure is null)
        {
            builder.Services.AddCometMpm();
        }
        else
        {
            builder.Services.AddCometMpm(configure);
        }

        var host = builder.Build();
        if (start)
        {
            await host.StartAsync();
        }

        return new TestClient(host);
    }

    public static Dictionary<string, object?> Features(params (string Name, object? Value)[] items) =>
        items.ToDictionary(i => i.Name, i => i.Value);

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await Host.StopAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }

        if (Host is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync();
        }
        else
        {
            Host.Dispose();
        }

        Enqueued.Dispose();
        Sent.Dispose();
        Dropped.Dispose();
        Spilled.Dispose();
    }
}
