namespace CometMpm.AspNetCore;

/// <summary>Global settings of the ASP.NET Core capture, set with <c>services.AddCometMpmAspNetCore(options =&gt; ...)</c>.</summary>
public sealed class CometMpmAspNetCoreOptions
{
    /// <summary>The default <see cref="PredictionIdHeader"/>: <c>X-Prediction-Id</c>.</summary>
    public const string DefaultPredictionIdHeader = "X-Prediction-Id";

    /// <summary>The request header a prediction id is read from, and the response header it is always returned in.</summary>
    public string PredictionIdHeader { get; set; } = DefaultPredictionIdHeader;

    /// <summary>The longest prediction id accepted from the request header; a longer one is ignored and a new id generated. Default 128.</summary>
    public int MaxPredictionIdLength { get; set; } = 128;

    /// <summary>The default share of predictions captured, from 0 to 1 (default 1: all). The decision is deterministic on the
    /// prediction id (<see cref="CometMpmSampler.IsSampled"/>), so a label follows its prediction without any state.</summary>
    public double SampleRate { get; set; } = 1.0;

    /// <summary>When not empty, the only features (input and output) that are sent; a name also admits its nested features.</summary>
    public ISet<string> IncludeFeatures { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Features (input and output) that are never sent; a name also excludes its nested features.</summary>
    public ISet<string> ExcludeFeatures { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Whether failed responses (status 400 and above, and exceptions as 500) are captured. Default false.
    /// When true, every event of the endpoint carries the status code as the output feature <see cref="StatusCodeFeatureName"/>.</summary>
    public bool CaptureFailedResponses { get; set; }

    /// <summary>The name of the status-code output feature sent when failed responses are captured. Default <c>status_code</c>.</summary>
    public string StatusCodeFeatureName { get; set; } = "status_code";

    /// <summary>The name of the output feature a scalar result (a returned number or string) is sent as. Default <c>value</c>.</summary>
    public string ScalarOutputFeatureName { get; set; } = "value";

    /// <summary>When true, each captured event carries the request's W3C trace id as the input feature
    /// <see cref="TraceIdFeatureName"/>, so a prediction in Comet leads to its trace. Default false: a trace id is unique per
    /// request, a feature of unbounded cardinality that MPM stores with every event and cannot chart as a distribution.
    /// The prediction id is always added to the request's trace as the tag <c>cometmpm.prediction_id</c>.</summary>
    public bool SendTraceId { get; set; }

    /// <summary>The name of the input feature the trace id is sent as, with <see cref="SendTraceId"/>. Default <c>trace_id</c>.</summary>
    public string TraceIdFeatureName { get; set; } = "trace_id";

    /// <summary>The model logged to when an endpoint names none: a client name registered with <c>AddCometMpm(name, ...)</c>,
    /// or null for the default client.</summary>
    public string? Model { get; set; }

    /// <summary>How deep nested objects are flattened (<c>a.b.c</c>). Default 4.</summary>
    public int MaxDepth { get; set; } = 4;

    /// <summary>The most items taken from a collection opted in with <see cref="CometMpmFeatureAttribute"/>. Default 256.</summary>
    public int MaxCollectionItems { get; set; } = 256;
}

/// <summary>Settings of one endpoint or route group (<c>.WithCometMpm(options =&gt; ...)</c>); a null setting inherits.</summary>
public sealed class CometMpmEndpointOptions
{
    /// <summary>The client to log to (a name given to <c>AddCometMpm(name, ...)</c>); inherits when null.</summary>
    public string? Model { get; set; }

    /// <summary>The share of predictions captured, from 0 to 1; inherits when null.</summary>
    public double? SampleRate { get; set; }

    /// <summary>Whether failed responses are captured; inherits when null.</summary>
    public bool? CaptureFailedResponses { get; set; }

    /// <summary>The only features that are sent (replaces the inherited allow-list); inherits when null.</summary>
    public IReadOnlyCollection<string>? IncludeFeatures { get; set; }

    /// <summary>Features that are never sent, added to the inherited deny-list.</summary>
    public IReadOnlyCollection<string>? ExcludeFeatures { get; set; }
}
