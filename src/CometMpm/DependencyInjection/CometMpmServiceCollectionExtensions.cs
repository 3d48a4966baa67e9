using CometMpm;
using CometMpm.Configuration;
using CometMpm.DependencyInjection;
using CometMpm.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Comet MPM client.</summary>
public static class CometMpmServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ICometMpm"/> (a singleton bound to the <c>CometMpm</c> configuration section and the
    /// <c>COMET_*</c> environment variables) and the hosted service that sends its batches. Calling it again is harmless.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddCometMpm(this IServiceCollection services) => AddCometMpmCore(services, section: null, configure: null);

    /// <summary>Registers the Comet MPM client and configures it in code; the code wins over configuration and environment.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets options.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddCometMpm(this IServiceCollection services, Action<CometMpmOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return AddCometMpmCore(services, section: null, configure);
    }

    /// <summary>Registers the Comet MPM client bound to the given configuration section instead of <c>CometMpm</c>.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section holding the options.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddCometMpm(this IServiceCollection services, IConfigurationSection configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return AddCometMpmCore(services, configuration, configure: null);
    }

    /// <summary>
    /// Registers a named client for one more model in the same application, resolved as a keyed service
    /// (<c>[FromKeyedServices("fraud")] ICometMpm mpm</c>). It takes the settings of the <c>CometMpm</c> section
    /// (API key, workspace, ...) overridden by those of <c>CometMpm:Models:{name}</c>, then by <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The client's name, e.g. the model's name.</param>
    /// <param name="configure">Sets options of this client only.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddCometMpm(this IServiceCollection services, string name, Action<CometMpmOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return AddCometMpmCore(services, section: null, configure, name);
    }

    /// <summary>Microsoft.Extensions.Http.Resilience's handler (standard, hedging, custom pipelines) and Polly v7's policy handler.</summary>
    private static bool IsRetryLayer(DelegatingHandler handler) =>
        handler.GetType().FullName is "Microsoft.Extensions.Http.Resilience.ResilienceHandler" or "Microsoft.Extensions.Http.PolicyHttpMessageHandler";

    private static IServiceCollection AddCometMpmCore(IServiceCollection services, IConfiguration? section, Action<CometMpmOptions>? configure, string? clientName = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var name = clientName ?? Options.Options.DefaultName;

        // Per-attempt timeouts come from the Polly pipeline. The factory's default request logging is removed:
        // its structured state carries raw header values at Trace level, the API key among them. Redirects are not
        // followed: a POST turned into a GET answered by someone else must not count as delivered, and a 307/308 would
        // resend the batch to whoever the Location names. This is a post-configuration, so that it also applies to a
        // primary handler the app supplies (services.AddHttpClient("CometMpm").ConfigurePrimaryHttpMessageHandler(…),
        // for a proxy or a certificate), which follows redirects by default.
        services.AddHttpClient(CometMpmOptions.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers();
        services.PostConfigure<Microsoft.Extensions.Http.HttpClientFactoryOptions>(CometMpmOptions.HttpClientName, factory =>
            factory.HttpMessageHandlerBuilderActions.Add(builder =>
            {
                // One retry layer: the client's own pipeline. Resilience handlers an app adds to every client
                // (ConfigureHttpClientDefaults(h => h.AddStandardResilienceHandler())) would multiply the attempts, hide
                // them from cometmpm.requests.retried and override the client's timeouts, so this client goes without.
                for (var i = builder.AdditionalHandlers.Count - 1; i >= 0; i--)
                {
                    if (IsRetryLayer(builder.AdditionalHandlers[i]))
                    {
                        builder.AdditionalHandlers.RemoveAt(i);
                    }
                }

                switch (builder.PrimaryHandler)
                {
                    case SocketsHttpHandler sockets:
                        sockets.AllowAutoRedirect = false;
                        break;
                    case HttpClientHandler classic:
                        classic.AllowAutoRedirect = false;
                        break;
                }
            }));
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<CometMpmInstruments>();
        services.TryAddSingleton<EnvironmentErrors>();
        services.TryAddSingleton<CometMpmClientFactory>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CometMpmOptions>, CometMpmOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<CometMpmOptions>, CometMpmConfigureOptions>());
        if (clientName is null)
        {
            services.TryAddSingleton<ICometMpm>(sp => sp.GetRequiredService<CometMpmClientFactory>().Get(name));
        }
        else if (!services.Any(d => d.ServiceType == typeof(ICometMpm) && d.IsKeyedService && Equals(d.ServiceKey, name)))
        {
            services.AddKeyedSingleton<ICometMpm>(name, (sp, _) => sp.GetRequiredService<CometMpmClientFactory>().Get(name));
        }

        if (!services.Any(d => d.ServiceType == typeof(CometMpmRegistration) && d.ImplementationInstance is CometMpmRegistration r && r.Name == name && r.Section == section))
        {
            services.AddSingleton(new CometMpmRegistration(name, section));
        }

        // First in the collection, so that it stops after the application's other hosted services.
        if (!services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(CometMpmHostedService)))
        {
            services.Insert(0, ServiceDescriptor.Singleton<IHostedService, CometMpmHostedService>());
        }

        var builder = services.AddOptions<CometMpmOptions>(name).ValidateOnStart();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        return services;
    }
}
