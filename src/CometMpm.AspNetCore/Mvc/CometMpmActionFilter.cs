using System.Collections;
using System.Text.Json;
using CometMpm.AspNetCore.Capture;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Mvc.Controllers;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.Infrastructure;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CometMpm.AspNetCore.Mvc;

/// <summary>
/// The MVC action filter created by <see cref="CometMpmPredictionAttribute"/> (an MVC filter factory). When the attribute is
/// on both the controller and the action, only the action's applies. The plan is built on the action's first request.
/// </summary>
internal sealed class CometMpmActionFilter(CometMpmPredictionAttribute attribute, IServiceProvider services) : IAsyncActionFilter
{
    private sealed record Built(ActionDescriptor Action, CapturePlan? Plan);

    private volatile Built? _built;

    public async Task OnActionExecutionAsync(ActionExecutingContext context, ActionExecutionDelegate next)
    {
        var plan = GetPlan(context.ActionDescriptor);
        if (plan is null)
        {
            await next();
            return;
        }

        var http = context.HttpContext;
        var scope = plan.TryBegin(http, new ActionArguments(context.ActionArguments));
        var executed = await next();
        if (executed.Exception is not null && !executed.ExceptionHandled)
        {
            plan.KeepPredictionIdThroughError(http);
        }

        if (!scope.IsActive)
        {
            return;
        }

        if (executed.Exception is not null && !executed.ExceptionHandled)
        {
            plan.TryComplete(scope, http, StatusCodes.Status500InternalServerError, null);
            return;
        }

        int status;
        object? value;
        try
        {
            status = ReadResult(executed.Result, http, out value);
        }
        catch (Exception)
        {
            status = http.Response.StatusCode;
            value = null;
        }

        plan.TryComplete(scope, http, status, value);
    }

    internal static int ReadResult(IActionResult? result, HttpContext http, out object? value)
    {
        switch (result)
        {
            case ObjectResult objectResult:
                value = objectResult.Value;
                return objectResult.StatusCode ?? http.Response.StatusCode;
            case JsonResult json:
                value = json.Value;
                return json.StatusCode ?? http.Response.StatusCode;
            case ContentResult content:
                value = content.Content;
                return content.StatusCode ?? http.Response.StatusCode;
            case IStatusCodeActionResult withStatus:
                value = null;
                return withStatus.StatusCode ?? http.Response.StatusCode;
            default:
                value = null;
                return http.Response.StatusCode;
        }
    }

    private CapturePlan? GetPlan(ActionDescriptor action)
    {
        var built = _built;
        if (built is not null && ReferenceEquals(built.Action, action))
        {
            return built.Plan;
        }

        built = new Built(action, Build(action));
        _built = built;
        return built.Plan;
    }

    private CapturePlan? Build(ActionDescriptor action)
    {
        // The most specific [CometMpmPrediction] wins (action over controller); the others' filters do nothing.
        var effective = action.FilterDescriptors
            .Where(d => d.Filter is CometMpmPredictionAttribute)
            .OrderByDescending(d => d.Scope)
            .Select(d => d.Filter)
            .FirstOrDefault();
        if (effective is not null && !ReferenceEquals(effective, attribute))
        {
            return null;
        }

        var json = services.GetRequiredService<IOptions<JsonOptions>>().Value.JsonSerializerOptions;
        return CapturePlan.TryCreate(services, action.DisplayName ?? action.Id, [attribute.ToEndpointOptions()], json, (j, models, settings) => ChooseInput(action, services, j, models, settings));
    }

    private static InputSpec ChooseInput(ActionDescriptor action, IServiceProvider services, JsonSerializerOptions json, FeatureModelCache models, CaptureSettings settings)
    {
        var parameters = action.Parameters;
        var isService = services.GetService<IServiceProviderIsService>();
        var chosen = parameters.FirstOrDefault(p => (p as ControllerParameterDescriptor)?.ParameterInfo.IsDefined(typeof(CometMpmInputAttribute), inherit: true) == true)
            ?? parameters.FirstOrDefault(p => p.BindingInfo?.BindingSource == BindingSource.Body)
            ?? parameters.FirstOrDefault(p => IsInferredComplex(p, isService));
        if (chosen is not null)
        {
            var model = models.Get(json, chosen.ParameterType);
            return new InputSpec(-1, chosen.Name, model, settings.Filter(model.Accessors), []);
        }

        var scalars = parameters
            .Where(p => FeatureAccessor.IsScalarType(p.ParameterType) && p.ParameterType != typeof(object) && !IsServiceOrSpecial(p.BindingInfo?.BindingSource) && settings.IsAllowed(p.Name))
            .Select(p => new ScalarArgument(-1, p.Name, p.Name))
            .ToArray();
        return scalars.Length == 0 ? InputSpec.None : new InputSpec(-1, null, null, [], scalars);
    }

    private static bool IsInferredComplex(ParameterDescriptor parameter, IServiceProviderIsService? isService)
    {
        var type = parameter.ParameterType;
        return !FeatureAccessor.IsScalarType(type) && !FeatureModelCache.IsFrameworkType(type) && !type.IsInterface && !type.IsAbstract
            && !typeof(IEnumerable).IsAssignableFrom(type) && type != typeof(CancellationToken)
            && !IsServiceOrSpecial(parameter.BindingInfo?.BindingSource)
            && isService?.IsService(type) != true;
    }

    private static bool IsServiceOrSpecial(BindingSource? source) =>
        source == BindingSource.Services || source == BindingSource.Special || source == BindingSource.FormFile;
}
