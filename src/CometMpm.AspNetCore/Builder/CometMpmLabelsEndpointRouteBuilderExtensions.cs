using CometMpm.AspNetCore;
using CometMpm.AspNetCore.Labels;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the endpoint that accepts late ground-truth labels.</summary>
public static class CometMpmLabelsEndpointRouteBuilderExtensions
{
    /// <summary>The default route of <see cref="MapCometMpmLabels"/>.</summary>
    public const string DefaultPattern = "/predictions/{predictionId}/labels";

    /// <summary>
    /// Maps <c>POST {pattern}</c>: the body is a JSON object of scalar labels (<c>{"is_fraud": true}</c>) for the prediction
    /// whose id is in the path, logged with <c>LogLabel</c>. Answers 202 when accepted, 400 with a clear message for a bad body.
    /// The sampling rule of the captured endpoints applies (a label of a prediction that was not sampled is not sent, and is
    /// counted <c>sampled_out</c>): without a <see cref="CometMpmEndpointOptions.SampleRate"/> of its own, the endpoint uses
    /// the rate of the captured endpoints of the client it labels (when they agree on one), else the global rate.
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="pattern">The route; it must contain <c>{predictionId}</c>.</param>
    /// <param name="configure">The model and sample rate (other settings do not apply to labels).</param>
    /// <returns>The endpoint's builder (add authorization, rate limiting, ... to it).</returns>
    public static IEndpointConventionBuilder MapCometMpmLabels(this IEndpointRouteBuilder endpoints, string pattern = DefaultPattern, Action<CometMpmEndpointOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        var route = RoutePatternFactory.Parse(pattern);
        if (route.GetParameter(LabelsEndpoint.RouteParameter) is null)
        {
            throw new ArgumentException($"The labels route '{pattern}' has no {{{LabelsEndpoint.RouteParameter}}} parameter.", nameof(pattern));
        }

        var options = new CometMpmEndpointOptions();
        configure?.Invoke(options);
        var endpoint = new LabelsEndpoint(endpoints.ServiceProvider, options, pattern);
        return endpoints.MapPost(pattern, endpoint.HandleAsync).WithDisplayName("Comet MPM labels").WithMetadata(endpoint);
    }
}
