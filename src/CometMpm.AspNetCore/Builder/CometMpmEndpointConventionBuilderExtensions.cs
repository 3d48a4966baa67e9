using CometMpm.AspNetCore;
using CometMpm.AspNetCore.Capture;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Turns on Comet MPM capture for minimal-API endpoints and route groups.</summary>
public static class CometMpmEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Captures every endpoint of this builder (an endpoint or a route group): the handler's model input becomes the input
    /// features, its result the output features, and the prediction id is returned in the <c>X-Prediction-Id</c> header.
    /// The handler is inspected once, when the endpoint is built. A <see cref="CometMpmPredictionAttribute"/> on a handler
    /// overrides these settings; settings of an endpoint override those of its groups.
    /// </summary>
    /// <typeparam name="TBuilder">The builder type.</typeparam>
    /// <param name="builder">An endpoint or route group.</param>
    /// <param name="configure">Settings of these endpoints (model, sampling, allow/deny lists, failed responses).</param>
    /// <returns>The builder.</returns>
    public static TBuilder WithCometMpm<TBuilder>(this TBuilder builder, Action<CometMpmEndpointOptions>? configure = null)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        CometMpmEndpointOptions? layer = null;
        if (configure is not null)
        {
            layer = new CometMpmEndpointOptions();
            configure(layer);
        }

        builder.Add(endpoint => CaptureMetadata.Apply(endpoint, layer, captureAll: true));
        return builder;
    }

    /// <summary>Captures every endpoint of this builder into a named model (a client registered with <c>AddCometMpm(model, ...)</c>).</summary>
    /// <typeparam name="TBuilder">The builder type.</typeparam>
    /// <param name="builder">An endpoint or route group.</param>
    /// <param name="model">The client's name.</param>
    /// <returns>The builder.</returns>
    public static TBuilder WithCometMpm<TBuilder>(this TBuilder builder, string model)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        return builder.WithCometMpm(options => options.Model = model);
    }

    /// <summary>
    /// Captures only the endpoints of this builder whose handler carries <see cref="CometMpmPredictionAttribute"/>.
    /// Minimal APIs have no global filters, so put the endpoints in a group: <c>var api = app.MapGroup("").WithCometMpmAttributes();</c>.
    /// </summary>
    /// <typeparam name="TBuilder">The builder type.</typeparam>
    /// <param name="builder">A route group (or an endpoint).</param>
    /// <returns>The builder.</returns>
    public static TBuilder WithCometMpmAttributes<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Add(endpoint => CaptureMetadata.Apply(endpoint, layer: null, captureAll: false));
        return builder;
    }
}
