using CometMpm.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the Comet MPM health check.</summary>
public static class CometMpmHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check reporting whether monitoring data reaches Comet: Healthy; Degraded while the backend
    /// fails (retrying, circuit open), events were dropped in the last minute, or batches wait in the outbox;
    /// Unhealthy when nothing can be delivered (the API key was refused, MPM is not installed, not configured).
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="clientName">The client registered with <c>AddCometMpm(name)</c>; the default client when null.</param>
    /// <param name="name">The health check's name; <c>cometmpm</c> (or <c>cometmpm-{clientName}</c>) when null.</param>
    /// <param name="failureStatus">The status reported when unhealthy; <see cref="HealthStatus.Unhealthy"/> when null.</param>
    /// <param name="tags">Tags to filter health checks by.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddCometMpm(
        this IHealthChecksBuilder builder,
        string? clientName = null,
        string? name = null,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var client = clientName ?? Options.Options.DefaultName;
        return builder.Add(new HealthCheckRegistration(
            name ?? (string.IsNullOrEmpty(client) ? "cometmpm" : $"cometmpm-{client}"),
            sp => new CometMpmHealthCheck(sp.GetRequiredService<CometMpmClientFactory>(), client),
            failureStatus,
            tags));
    }
}
