using CometMpm.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;

namespace CometMpm.AspNetCore;

/// <summary>
/// Captures the request's input features and the response's output features of an endpoint as a Comet MPM prediction.
/// On a minimal-API handler (lambda or method) it takes effect inside a route group or endpoint that has
/// <c>.WithCometMpm()</c> or <c>.WithCometMpmAttributes()</c>, and its settings override theirs. On an MVC controller
/// or action it works on its own (it is an MVC filter factory); <c>services.AddCometMpmAspNetCore()</c> is required in both cases.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class, AllowMultiple = false, Inherited = true)]
public sealed class CometMpmPredictionAttribute : Attribute, IFilterFactory, IOrderedFilter
{
    private double _sampleRate = double.NaN;
    private bool? _captureFailedResponses;

    /// <summary>Creates the attribute for the default model (the client registered by <c>AddCometMpm()</c>).</summary>
    public CometMpmPredictionAttribute()
    {
    }

    /// <summary>Creates the attribute for a named model (the client registered by <c>AddCometMpm(model, ...)</c>).</summary>
    /// <param name="model">The name the client was registered with.</param>
    public CometMpmPredictionAttribute(string model) => Model = model;

    /// <summary>The name of the client to log to (<c>AddCometMpm(name, ...)</c>); the default client when null.</summary>
    public string? Model { get; set; }

    /// <summary>The share of predictions captured, from 0 to 1, decided on the prediction id (see <see cref="CometMpmSampler"/>).
    /// Inherits the endpoint's or the global setting when not set.</summary>
    public double SampleRate
    {
        get => _sampleRate;
        set => _sampleRate = value;
    }

    /// <summary>Whether failed responses (status 400 and above, exceptions) are captured, with the status code as an output feature.
    /// Inherits the endpoint's or the global setting when not set.</summary>
    public bool CaptureFailedResponses
    {
        get => _captureFailedResponses ?? false;
        set => _captureFailedResponses = value;
    }

    /// <summary>The only features (input and output) that are sent, by name; a name also admits its nested features
    /// (<c>address</c> admits <c>address.city</c>). Inherits the endpoint's or the global list when null.</summary>
    public string[]? IncludeFeatures { get; set; }

    /// <summary>Features (input and output) that are never sent, by name; a name also excludes its nested features.
    /// Added to the endpoint's and the global deny-lists.</summary>
    public string[]? ExcludeFeatures { get; set; }

    /// <inheritdoc/>
    bool IFilterFactory.IsReusable => true;

    /// <inheritdoc/>
    int IOrderedFilter.Order => 0;

    internal double? SampleRateOrNull => double.IsNaN(_sampleRate) ? null : _sampleRate;

    internal bool? CaptureFailedResponsesOrNull => _captureFailedResponses;

    /// <inheritdoc/>
    IFilterMetadata IFilterFactory.CreateInstance(IServiceProvider serviceProvider) => new CometMpmActionFilter(this, serviceProvider);

    internal CometMpmEndpointOptions ToEndpointOptions() => new()
    {
        Model = Model,
        SampleRate = SampleRateOrNull,
        CaptureFailedResponses = CaptureFailedResponsesOrNull,
        IncludeFeatures = IncludeFeatures,
        ExcludeFeatures = ExcludeFeatures,
    };
}
