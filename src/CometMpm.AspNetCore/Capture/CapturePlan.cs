using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CometMpm.AspNetCore.Diagnostics;
using CometMpm.Diagnostics;
using CometMpm.Events;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CometMpm.AspNetCore.Capture;

/// <summary>Where the model's input comes from: one argument (its features), or the scalar arguments by name.</summary>
internal sealed class InputSpec
{
    public static readonly InputSpec None = new(-1, null, null, [], []);

    public InputSpec(int index, string? name, FeatureModel? model, FeatureAccessor[] accessors, ScalarArgument[] scalars)
    {
        Index = index;
        Name = name;
        Model = model;
        Accessors = accessors;
        Scalars = scalars;
    }

    public int Index { get; }

    public string? Name { get; }

    public bool HasRoot => Name is not null;

    public FeatureModel? Model { get; }

    public FeatureAccessor[] Accessors { get; }

    public ScalarArgument[] Scalars { get; }

    public string Describe() =>
        HasRoot ? $"argument '{Name}' ({Model?.Type.Name}, {Accessors.Length} features)"
        : Scalars.Length > 0 ? $"scalar arguments {string.Join(", ", Scalars.Select(s => s.Feature))}"
        : "none";
}

/// <summary>A scalar handler argument taken as an input feature.</summary>
internal readonly record struct ScalarArgument(int Index, string Name, string Feature);

/// <summary>Reads arguments by position (minimal APIs) or by name (MVC) without allocating.</summary>
internal interface IArgumentSource
{
    object? Get(int index, string name);
}

/// <summary>The arguments of an endpoint filter invocation.</summary>
internal readonly struct EndpointArguments(IList<object?> arguments) : IArgumentSource
{
    public object? Get(int index, string name) => (uint)index < (uint)arguments.Count ? arguments[index] : null;
}

/// <summary>The arguments of an MVC action.</summary>
internal readonly struct ActionArguments(IDictionary<string, object?> arguments) : IArgumentSource
{
    public object? Get(int index, string name) => arguments.TryGetValue(name, out var value) ? value : null;
}

/// <summary>The state of one captured request between the handler's start and its result.</summary>
internal readonly struct CaptureScope(PredictionContext? context, string predictionId, FeatureMap inputs)
{
    /// <summary>The request's prediction context when the application uses it; null otherwise.</summary>
    public PredictionContext? Context { get; } = context;

    public string PredictionId { get; } = predictionId;

    public FeatureMap Inputs { get; } = inputs;

    public bool IsActive => PredictionId is not null;
}

/// <summary>
/// Everything one captured endpoint (or MVC action) needs, built once: settings, the client, the input's accessors,
/// and a cache of output accessors per result type. Per request it resolves the prediction id, samples, reads the
/// features and queues the event. Nothing in here may change the response: every failure is caught and counted.
/// </summary>
internal sealed partial class CapturePlan
{
    private readonly string _displayName;
    private readonly CaptureSettings _settings;
    private readonly InputSpec _input;
    private readonly ICometMpm _client;
    private readonly IPreparedEventSink? _fast;
    private readonly JsonSerializerOptions _json;
    private readonly FeatureModelCache _models;
    private readonly CaptureDiagnostics _diagnostics;
    private readonly CometMpmMetrics? _metrics;
    private readonly ConcurrentDictionary<Type, FeatureLayout> _outputs = new();
    private readonly FeatureLayout _inputLayout;
    private readonly FeatureLayout _nullOutputLayout;
    private readonly FeatureLayout _scalarOutputLayout;
    private readonly PredictionContextUsage _contextUsage;

    /// <summary>The tag that carries the prediction id on the request's <see cref="Activity"/>.</summary>
    public const string PredictionIdTag = "cometmpm.prediction_id";

    private CapturePlan(string displayName, CaptureSettings settings, InputSpec input, ICometMpm client, JsonSerializerOptions json, FeatureModelCache models, CaptureDiagnostics diagnostics, PredictionContextUsage contextUsage)
    {
        _contextUsage = contextUsage;
        _displayName = displayName;
        _settings = settings;
        _input = input;
        _client = client;
        _fast = client as IPreparedEventSink;
        _json = json;
        _models = models;
        _diagnostics = diagnostics;
        _metrics = diagnostics.ForClient(settings.Model);
        var status = settings.CaptureFailedResponses ? settings.StatusCodeFeatureName : null;
        _inputLayout = FeatureLayout.Create(input.HasRoot ? input.Accessors : [], input.Scalars.Select(s => s.Feature), appended: settings.TraceIdFeatureName);
        _nullOutputLayout = FeatureLayout.Create([], [], appended: status);
        _scalarOutputLayout = FeatureLayout.Create([], settings.IsAllowed(settings.ScalarOutputFeatureName) ? [settings.ScalarOutputFeatureName] : [], appended: status);
        CaptureLog.EndpointCaptured(diagnostics.Logger, displayName, settings.Model ?? "(default)", input.Describe(), settings.SampleRate, settings.CaptureFailedResponses);
    }

    public CaptureSettings Settings => _settings;

    public InputSpec Input => _input;

    /// <summary>Resolves what a plan needs from the application's services; throws when the application is not set up for capture.</summary>
    public static CapturePlan Create(
        IServiceProvider services,
        string displayName,
        IEnumerable<CometMpmEndpointOptions> layers,
        JsonSerializerOptions json,
        Func<JsonSerializerOptions, FeatureModelCache, CaptureSettings, InputSpec> chooseInput)
    {
        var models = services.GetService<FeatureModelCache>()
            ?? throw new CaptureSetupException($"Comet MPM capture of {displayName} is not set up: call services.AddCometMpmAspNetCore() (and services.AddCometMpm()).");
        var diagnostics = services.GetRequiredService<CaptureDiagnostics>();
        var global = services.GetRequiredService<IOptions<CometMpmAspNetCoreOptions>>().Value;
        var settings = CaptureSettings.Create(global, layers);
        var client = CaptureClients.Resolve(services, settings.Model, displayName);
        services.GetService<CaptureSampleRates>()?.Record(settings.Model, settings.SampleRate);
        var input = chooseInput(json, models, settings);
        var contextUsage = services.GetRequiredService<PredictionContextUsage>();
        return new CapturePlan(displayName, settings, input, client, json, models, diagnostics, contextUsage);
    }

    /// <summary>
    /// As <see cref="Create"/>, but never throws: a problem is logged and reported to <see cref="CaptureProblems"/> (the
    /// start-up check fails start with it) and the endpoint is served without capture (null).
    /// </summary>
    public static CapturePlan? TryCreate(
        IServiceProvider services,
        string displayName,
        IEnumerable<CometMpmEndpointOptions> layers,
        JsonSerializerOptions json,
        Func<JsonSerializerOptions, FeatureModelCache, CaptureSettings, InputSpec> chooseInput)
    {
        try
        {
            return Create(services, displayName, layers, json, chooseInput);
        }
        catch (Exception ex)
        {
            var problem = ex is CaptureSetupException ? ex.Message : $"Comet MPM cannot capture {displayName}: {ex.GetType().Name}: {ex.Message}";
            services.GetService<CaptureProblems>()?.Report(problem);
            if (services.GetService<CaptureDiagnostics>() is { } diagnostics)
            {
                CaptureLog.CaptureSetupFailed(diagnostics.Logger, problem, ex);
            }

            return null;
        }
    }

    /// <summary>
    /// The handler threw: the exception handler that writes the 500 clears the response headers, so the prediction id
    /// header is set again when the response starts (only on this path: it costs a callback).
    /// </summary>
    public void KeepPredictionIdThroughError(HttpContext http)
    {
        var name = _settings.PredictionIdHeader;
        if (http.Response.HasStarted || http.Response.Headers[name] is not [{ } id])
        {
            return;
        }

        http.Response.OnStarting(
            static state =>
            {
                var (response, header, value) = ((HttpResponse, string, string))state;
                response.Headers[header] = value;
                return Task.CompletedTask;
            },
            (http.Response, name, id));
    }

    /// <summary>Starts capturing a request: the prediction id (set on the response), sampling, and the input features.</summary>
    public CaptureScope TryBegin<TArguments>(HttpContext http, TArguments arguments)
        where TArguments : IArgumentSource
    {
        PredictionContext? context = null;
        try
        {
            context = RequestContext(http);
            var root = _input.HasRoot ? arguments.Get(_input.Index, _input.Name!) : null;
            var predictionId = ReadHeader(http) ?? ReadIdProperty(root) ?? PredictionIds.NewUuidV7(_diagnostics.TimeProvider);
            http.Response.Headers[_settings.PredictionIdHeader] = predictionId;
            var sampled = CometMpmSampler.IsSampled(predictionId, _settings.SampleRate);
            context?.Start(predictionId, sampled);
            var activity = Activity.Current;
            if (activity is { IsAllDataRequested: true })
            {
                // The prediction is one search away from its trace (and back: the trace id is in the event on request).
                activity.SetTag(PredictionIdTag, predictionId);
                activity.SetTag(CometMpmMetrics.ClientTag, _metrics?.ClientName);
            }

            if (!sampled)
            {
                CaptureDiagnostics.SampledOut(_metrics);
                return default;
            }

            var inputs = ReadInputs(root, arguments, activity);
            return new CaptureScope(context, predictionId, inputs);
        }
        catch (Exception ex)
        {
            context?.Complete();
            _diagnostics.CaptureFailed(_displayName, _metrics, ex);
            return default;
        }
    }

    /// <summary>Completes a minimal-API capture with the handler's result (awaited).</summary>
    public void TryComplete(in CaptureScope scope, HttpContext http, object? result)
    {
        try
        {
            var status = ResultReader.Read(result, http, out var value);
            Complete(scope, http, status, value);
        }
        catch (Exception ex)
        {
            _diagnostics.CaptureFailed(_displayName, _metrics, ex);
        }
    }

    /// <summary>Completes a capture with a status code and an output value already read.</summary>
    public void TryComplete(in CaptureScope scope, HttpContext http, int statusCode, object? value)
    {
        try
        {
            Complete(scope, http, statusCode, value);
        }
        catch (Exception ex)
        {
            _diagnostics.CaptureFailed(_displayName, _metrics, ex);
        }
    }

    private void Complete(in CaptureScope scope, HttpContext http, int statusCode, object? value)
    {
        // A context the handler resolved after the capture began (while the application had not used one yet).
        var context = scope.Context ?? RequestContext(http);
        context?.Complete();
        var failed = statusCode >= 400;
        if (failed && !_settings.CaptureFailedResponses)
        {
            return;
        }

        var outputs = ReadOutputs(failed ? null : value, statusCode);
        var inputs = Merge(scope.Inputs, context?.Features, "feature");
        outputs = Merge(outputs, context?.Outputs, "output");
        var labels = context?.Labels is null ? default : Merge(FeatureMap.Empty, context.Labels, "label");
        Send(scope.PredictionId, inputs, outputs, labels);
    }

    private void Send(string predictionId, FeatureMap inputs, FeatureMap outputs, FeatureMap labels)
    {
        if (_fast is not null)
        {
            _fast.LogPrepared(predictionId, inputs, outputs, labels);
            return;
        }

        _client.LogEvent(predictionId, inputs.ToDictionary(), outputs.ToDictionary(), labels.ToDictionary());
    }

    /// <summary>
    /// The request's prediction context, once the application has used one: the first read of RequestServices creates
    /// the request's dependency-injection scope, which an endpoint that never uses the context should not pay for.
    /// </summary>
    private PredictionContext? RequestContext(HttpContext http) =>
        _contextUsage.IsUsed ? http.RequestServices?.GetService<PredictionContext>() : null;

    private string? ReadHeader(HttpContext http) =>
        http.Request.Headers.TryGetValue(_settings.PredictionIdHeader, out var values) && values.Count > 0
            ? Valid(values[0])
            : null;

    private string? ReadIdProperty(object? root)
    {
        if (root is null || _input.Model?.PredictionIdGetter is not { } getter)
        {
            return null;
        }

        try
        {
            return getter(root) switch
            {
                null => null,
                string s => Valid(s),
                IFormattable f => Valid(f.ToString(null, CultureInfo.InvariantCulture)),
                var other => Valid(other.ToString()),
            };
        }
        catch (Exception ex)
        {
            _diagnostics.CaptureFailed(_displayName, _metrics, ex);
            return null;
        }
    }

    /// <summary>A prediction id must be non-blank, not too long, and printable ASCII (it is echoed in a response header).</summary>
    private string? Valid(string? id)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Length > _settings.MaxPredictionIdLength)
        {
            return null;
        }

        foreach (var c in id)
        {
            if (c is < (char)0x20 or > (char)0x7e)
            {
                return null;
            }
        }

        return id;
    }
}

/// <summary>Reads the status code and the output value of a minimal-API result.</summary>
internal static class ResultReader
{
    public static int Read(object? result, HttpContext http, out object? value)
    {
        value = result;
        int? status = null;
        for (var depth = 0; depth < 8 && value is IResult; depth++)
        {
            if (value is INestedHttpResult nested)
            {
                value = nested.Result;
                continue;
            }

            status = (value as IStatusCodeHttpResult)?.StatusCode;
            value = value is IValueHttpResult valueResult ? valueResult.Value : null;
            break;
        }

        if (value is IResult)
        {
            value = null;
        }

        return status ?? http.Response.StatusCode;
    }
}
