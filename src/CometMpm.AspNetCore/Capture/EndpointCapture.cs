using System.Collections;
using System.Reflection;
using System.Text.Json;
using CometMpm.AspNetCore.Labels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace CometMpm.AspNetCore.Capture;

/// <summary>Endpoint metadata of capture: the settings layers of the groups and the endpoint, outermost first.</summary>
internal sealed class CaptureMetadata
{
    public List<CometMpmEndpointOptions> Layers { get; } = [];

    /// <summary>False when only <c>.WithCometMpmAttributes()</c> applies: only handlers with [CometMpmPrediction] are captured.</summary>
    public bool CaptureAll { get; set; }

    /// <summary>Adds capture to an endpoint once, however many groups and calls ask for it.</summary>
    public static void Apply(EndpointBuilder endpoint, CometMpmEndpointOptions? layer, bool captureAll)
    {
        var metadata = endpoint.Metadata.OfType<CaptureMetadata>().FirstOrDefault();
        if (metadata is null)
        {
            metadata = new CaptureMetadata();
            endpoint.Metadata.Add(metadata);
            endpoint.FilterFactories.Add((context, next) => EndpointCapture.Create(context, next, metadata, endpoint.DisplayName));
        }

        if (layer is not null)
        {
            metadata.Layers.Add(layer);
        }

        metadata.CaptureAll |= captureAll;
    }
}

/// <summary>The endpoint filter of a captured minimal-API endpoint.</summary>
internal sealed class EndpointCapture(CapturePlan plan, EndpointFilterDelegate next)
{
    public CapturePlan Plan => plan;

    /// <summary>The filter factory: inspects the handler once, at build time; returns <paramref name="next"/> when nothing is captured.</summary>
    public static EndpointFilterDelegate Create(EndpointFilterFactoryContext context, EndpointFilterDelegate next, CaptureMetadata metadata, string? displayName)
    {
        var method = context.MethodInfo;
        if (method.DeclaringType == typeof(LabelsEndpoint))
        {
            return next;
        }

        var attribute = method.GetCustomAttribute<CometMpmPredictionAttribute>(inherit: true);
        if (attribute is null && !metadata.CaptureAll)
        {
            return next;
        }

        var layers = attribute is null ? metadata.Layers : [.. metadata.Layers, attribute.ToEndpointOptions()];
        var services = context.ApplicationServices;
        var json = services.GetRequiredService<IOptions<HttpJsonOptions>>().Value.SerializerOptions;
        var plan = CapturePlan.TryCreate(services, displayName ?? method.Name, layers, json, (j, models, settings) => ChooseInput(method, services, j, models, settings));
        return plan is null ? next : new EndpointCapture(plan, next).InvokeAsync;
    }

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context)
    {
        var http = context.HttpContext;
        var scope = plan.TryBegin(http, new EndpointArguments(context.Arguments));
        object? result;
        try
        {
            result = await next(context);
        }
        catch (Exception)
        {
            plan.KeepPredictionIdThroughError(http);
            if (scope.IsActive)
            {
                plan.TryComplete(scope, http, StatusCodes.Status500InternalServerError, null);
            }

            throw;
        }

        if (scope.IsActive)
        {
            plan.TryComplete(scope, http, result);
        }

        return result;
    }

    /// <summary>
    /// The model input is the parameter marked [CometMpmInput], else the one bound from the body, else an [AsParameters]
    /// one, else the first complex parameter that is not a service; without any, the scalar parameters by name.
    /// </summary>
    internal static InputSpec ChooseInput(MethodInfo method, IServiceProvider services, JsonSerializerOptions json, FeatureModelCache models, CaptureSettings settings)
    {
        var parameters = method.GetParameters();
        var isService = services.GetService<IServiceProviderIsService>();
        var chosen = Array.FindIndex(parameters, p => p.IsDefined(typeof(CometMpmInputAttribute), inherit: true));
        if (chosen < 0)
        {
            chosen = Array.FindIndex(parameters, p => Has<IFromBodyMetadata>(p) && !Has<IFromServiceMetadata>(p));
        }

        if (chosen < 0)
        {
            chosen = Array.FindIndex(parameters, p => p.IsDefined(typeof(AsParametersAttribute), inherit: true));
        }

        if (chosen < 0)
        {
            chosen = Array.FindIndex(parameters, p => IsInferredComplex(p, isService));
        }

        if (chosen >= 0)
        {
            var parameter = parameters[chosen];
            var model = models.Get(json, parameter.ParameterType);
            return new InputSpec(chosen, parameter.Name ?? $"arg{chosen}", model, settings.Filter(model.Accessors), []);
        }

        var scalars = new List<ScalarArgument>();
        for (var i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i];
            if (p.Name is { } name && FeatureAccessor.IsScalarType(p.ParameterType) && p.ParameterType != typeof(object)
                && !Has<IFromServiceMetadata>(p) && !p.IsDefined(typeof(FromKeyedServicesAttribute), inherit: true)
                && settings.IsAllowed(name))
            {
                scalars.Add(new ScalarArgument(i, name, name));
            }
        }

        return scalars.Count == 0 ? InputSpec.None : new InputSpec(-1, null, null, [], [.. scalars]);
    }

    private static bool IsInferredComplex(ParameterInfo parameter, IServiceProviderIsService? isService)
    {
        var type = parameter.ParameterType;
        if (FeatureAccessor.IsScalarType(type) || FeatureModelCache.IsFrameworkType(type) || type.IsInterface || type.IsAbstract
            || typeof(IEnumerable).IsAssignableFrom(type) || type == typeof(CancellationToken))
        {
            return false;
        }

        if (Has<IFromServiceMetadata>(parameter) || parameter.IsDefined(typeof(FromKeyedServicesAttribute), inherit: true)
            || Has<IFromRouteMetadata>(parameter) || Has<IFromQueryMetadata>(parameter) || Has<IFromHeaderMetadata>(parameter))
        {
            return false;
        }

        return isService?.IsService(type) != true;
    }

    private static bool Has<T>(ParameterInfo parameter)
    {
        foreach (var attribute in parameter.GetCustomAttributes(inherit: true))
        {
            if (attribute is T)
            {
                return true;
            }
        }

        return false;
    }
}
