using System.Collections.Concurrent;
using CometMpm.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CometMpm.DependencyInjection;

/// <summary>Creates one client per registered name, once, and disposes them with the container.</summary>
internal sealed class CometMpmClientFactory(
    IOptionsMonitor<CometMpmOptions> optionsMonitor,
    IHttpClientFactory httpClientFactory,
    TimeProvider timeProvider,
    CometMpmInstruments instruments,
    ILoggerFactory loggerFactory) : IAsyncDisposable, IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<ICometMpm>> _clients = new(StringComparer.Ordinal);

    public ICometMpm Get(string name) =>
        _clients.GetOrAdd(name, n => new Lazy<ICometMpm>(() => Create(n), LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    private ICometMpm Create(string name)
    {
        var options = optionsMonitor.Get(name);
        if (options.Disabled)
        {
            Log.Disabled(loggerFactory.CreateLogger("CometMpm"));
            return new DisabledCometMpm(instruments.ForClient(name));
        }

        return new CometMpmClient(name, options, httpClientFactory, timeProvider, instruments, loggerFactory);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients.Values)
        {
            if (client.IsValueCreated && client.Value is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            if (client.IsValueCreated && client.Value is IDisposable disposable)
            {
                disposable.Dispose();
            }
        }
    }
}
