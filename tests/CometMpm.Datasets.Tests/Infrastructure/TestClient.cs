using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace CometMpm.Datasets.Tests.Infrastructure;

/// <summary>An <see cref="ICometMpm"/> from <c>AddCometMpm</c>, pointed at a local server, with captured logs.</summary>
public sealed class TestClient : IAsyncDisposable
{
    public const string ApiKey = "test-api-key-7c41e0d2";

    private readonly ServiceProvider _services;

    private TestClient(ServiceProvider services)
    {
        _services = services;
        Mpm = services.GetRequiredService<ICometMpm>();
        Logs = services.GetFakeLogCollector();
    }

    public ICometMpm Mpm { get; }

    public FakeLogCollector Logs { get; }

    public static TestClient Create(Uri server, Action<CometMpmOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddFakeLogging());
        services.AddCometMpm(o =>
        {
            o.ApiKey = ApiKey;
            o.WorkspaceName = "payments";
            o.ModelName = "fraud-detector";
            o.ModelVersion = "2.3.0";
            o.UrlOverride = server;
            o.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
            o.MaxBatchTime = TimeSpan.FromMilliseconds(200);
            configure?.Invoke(o);
        });
        return new TestClient(services.BuildServiceProvider());
    }

    public async ValueTask DisposeAsync()
    {
        await Mpm.EndAsync(TimeSpan.FromSeconds(10));
        await _services.DisposeAsync();
    }
}
