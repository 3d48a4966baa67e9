using CometMpm.Delivery;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CometMpm.DependencyInjection;

/// <summary>Reports one client's delivery health (see <see cref="CometMpmClient.CheckHealth"/>).</summary>
internal sealed class CometMpmHealthCheck(CometMpmClientFactory factory, string clientName) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ICometMpm client;
        try
        {
            client = factory.Get(clientName);
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException ex)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("Comet MPM is not configured: " + ex.Message));
        }

        if (client is not CometMpmClient mpm)
        {
            return Task.FromResult(HealthCheckResult.Healthy("Comet MPM is disabled by configuration; nothing is sent."));
        }

        var (status, description) = mpm.CheckHealth();
        return Task.FromResult(status switch
        {
            CometMpmHealth.Healthy => HealthCheckResult.Healthy(description),
            CometMpmHealth.Degraded => HealthCheckResult.Degraded(description),
            _ => new HealthCheckResult(context.Registration.FailureStatus, description),
        });
    }
}
