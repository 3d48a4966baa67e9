using Microsoft.AspNetCore.Hosting;
using System.Text.Json;
using CometMpm.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace CometMpm.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A real ASP.NET Core pipeline (in-memory test server) whose Comet MPM clients send to a local <see cref="RecordingMpmServer"/>.
/// Batches wait for <see cref="FlushAsync"/>, which makes what was sent deterministic.
/// </summary>
public sealed class TestApp : IAsyncDisposable
{
    private readonly RecordingMpmServer _server;
    private readonly List<string> _models;

    private TestApp(WebApplication app, RecordingMpmServer server, List<string> models, HttpClient client)
    {
        App = app;
        _server = server;
        _models = models;
        Client = client;
        Logs = app.Services.GetFakeLogCollector();
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public FakeLogCollector Logs { get; }

    public RecordingMpmServer Server => _server;

    public ICometMpm Mpm => App.Services.GetRequiredService<ICometMpm>();

    public MetricCollector<long> CollectDrops() =>
        new(App.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), CometMpmInstruments.MeterName, "cometmpm.events.dropped");

    public static async Task<TestApp> StartAsync(
        Action<WebApplication> map,
        Action<CometMpmAspNetCoreOptions>? capture = null,
        Action<IServiceCollection>? services = null,
        IDictionary<string, string?>? settings = null,
        string[]? models = null,
        bool mvc = false,
        bool kestrel = false)
    {
        var server = await RecordingMpmServer.StartAsync();
        var builder = WebApplication.CreateSlimBuilder();
        if (kestrel)
        {
            // Real Kestrel on loopback, where the in-memory server would not check what Kestrel checks (header values).
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseTestServer();
        }

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddFakeLogging();
        var config = new Dictionary<string, string?>
        {
            ["CometMpm:ApiKey"] = "test-api-key",
            ["CometMpm:WorkspaceName"] = "payments",
            ["CometMpm:ModelName"] = "fraud-detector",
            ["CometMpm:ModelVersion"] = "1.0.0",
            ["CometMpm:UrlOverride"] = server.BaseUrl.ToString(),
            ["CometMpm:MaxBatchTime"] = "01:00:00",
            ["CometMpm:RetryBaseDelay"] = "00:00:00.010",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(config);
        builder.Services.AddCometMpm();
        foreach (var model in models ?? [])
        {
            builder.Services.AddCometMpm(model, o => o.ModelName = model);
        }

        builder.Services.AddCometMpmAspNetCore(capture);
        if (mvc)
        {
            builder.Services.AddControllers().AddApplicationPart(typeof(TestApp).Assembly);
        }

        services?.Invoke(builder.Services);
        var app = builder.Build();
        map(app);
        if (mvc)
        {
            app.MapControllers();
        }

        await app.StartAsync();
        var client = kestrel ? new HttpClient { BaseAddress = new Uri(app.Urls.First()) } : app.GetTestClient();
        return new TestApp(app, server, [.. models ?? []], client);
    }

    /// <summary>Flushes every client and returns the prediction events the server has received.</summary>
    public async Task<IReadOnlyList<JsonElement>> PredictionsAsync()
    {
        await FlushAsync();
        return _server.Predictions;
    }

    public async Task<IReadOnlyList<JsonElement>> LabelsAsync()
    {
        await FlushAsync();
        return _server.Labels;
    }

    public async Task FlushAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.True(await Mpm.FlushAsync(cts.Token), "the default client did not deliver everything");
        foreach (var model in _models)
        {
            Assert.True(await App.Services.GetRequiredKeyedService<ICometMpm>(model).FlushAsync(cts.Token), $"client '{model}' did not deliver everything");
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        await _server.DisposeAsync();
    }
}

/// <summary>Reads features out of a recorded event.</summary>
public static class EventJson
{
    public static string Id(this JsonElement e) => e.GetProperty("predictionId").GetString()!;

    public static Dictionary<string, string> Map(this JsonElement e, string property) =>
        e.TryGetProperty(property, out var map)
            ? map.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ToString())
            : [];

    public static Dictionary<string, string> Features(this JsonElement e) => e.Map("features");

    public static Dictionary<string, string> Outputs(this JsonElement e) => e.Map("prediction");

    public static Dictionary<string, string> LabelMap(this JsonElement e) => e.Map("labels");
}
