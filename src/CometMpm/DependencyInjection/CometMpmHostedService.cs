using CometMpm.Configuration;
using Microsoft.Extensions.Hosting;

namespace CometMpm.DependencyInjection;

/// <summary>
/// Starts every registered client's sender at application start and ends them when the host stops,
/// within each client's end timeout (and the host's shutdown timeout). It is registered first so
/// that it stops last, after the application's other hosted services have logged their last events.
/// </summary>
internal sealed class CometMpmHostedService(CometMpmClientFactory factory, IEnumerable<CometMpmRegistration> registrations) : BackgroundService
{
    private readonly string[] _names = registrations.Select(r => r.Name).Distinct(StringComparer.Ordinal).ToArray();
    private readonly List<CometMpmClient> _started = [];

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var name in _names)
        {
            if (factory.Get(name) is CometMpmClient client)
            {
                await client.StartAsync(cancellationToken).ConfigureAwait(false);
                _started.Add(client);
            }
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs as long as the clients' sender loops drain their queues; they end in <see cref="StopAsync"/>.</summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_started.Select(client => client.Completion));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(_started.Select(client => client.EndAsync(client.EndTimeout, cancellationToken))).ConfigureAwait(false);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }
}
