using CometMpm.AspNetCore;
using CometMpm.AspNetCore.Capture;
using CometMpm.AspNetCore.Diagnostics;
using CometMpm.Diagnostics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the ASP.NET Core capture of Comet MPM.</summary>
public static class CometMpmAspNetCoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers what capture needs: the global options, the feature extraction cache and the per-request
    /// <see cref="ICometMpmPredictionContext"/>. The clients themselves come from <c>AddCometMpm()</c> and
    /// <c>AddCometMpm(name, ...)</c>. MVC needs nothing more: <see cref="CometMpmPredictionAttribute"/> is itself an
    /// MVC filter factory. Calling it again is harmless (and applies <paramref name="configure"/> too).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the global options.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddCometMpmAspNetCore(this IServiceCollection services, Action<CometMpmAspNetCoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = services.AddOptions<CometMpmAspNetCoreOptions>()
            .Validate(o => o.SampleRate is >= 0 and <= 1, "CometMpm:Capture:SampleRate must be between 0 and 1 (the share of predictions captured).")
            .Validate(o => !string.IsNullOrWhiteSpace(o.PredictionIdHeader), "CometMpm:Capture:PredictionIdHeader must not be empty (default X-Prediction-Id).")
            .Validate(o => o.MaxPredictionIdLength > 0 && o.MaxDepth > 0, "CometMpm:Capture:MaxPredictionIdLength and CometMpm:Capture:MaxDepth must be positive.")
            .ValidateOnStart();

        // The CometMpm:Capture section first, so code-based configuration wins.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<CometMpmAspNetCoreOptions>, CaptureOptionsFromConfiguration>());
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new CaptureDiagnostics(
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<CometMpmInstruments>()));
        services.TryAddSingleton<FeatureModelCache>();
        services.TryAddSingleton<CaptureProblems>();
        services.TryAddSingleton<CaptureSampleRates>();
        if (!services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(CaptureStartupCheck)))
        {
            services.AddHostedService<CaptureStartupCheck>(); // after the web host's own service: the endpoints exist then
        }

        services.TryAddSingleton<PredictionContextUsage>();
        services.TryAddScoped(sp => sp.GetRequiredService<PredictionContextUsage>().Create());
        services.TryAddScoped<ICometMpmPredictionContext>(sp => sp.GetRequiredService<PredictionContext>());
        return services;
    }
}

/// <summary>Binds <see cref="CometMpmAspNetCoreOptions"/> from the <c>CometMpm:Capture</c> configuration section, when there is configuration.</summary>
internal sealed class CaptureOptionsFromConfiguration(Microsoft.Extensions.Configuration.IConfiguration? configuration = null) : IConfigureOptions<CometMpmAspNetCoreOptions>
{
    public void Configure(CometMpmAspNetCoreOptions options)
    {
        if (configuration is not null)
        {
            var section = configuration.GetSection("CometMpm:Capture");
            Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(section, options);
        }
    }
}
