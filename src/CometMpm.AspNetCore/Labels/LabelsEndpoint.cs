using System.Text.Json;
using CometMpm.AspNetCore.Capture;
using CometMpm.AspNetCore.Diagnostics;
using CometMpm.Diagnostics;
using CometMpm.Events;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CometMpm.AspNetCore.Labels;

/// <summary>
/// <c>POST {pattern}</c>: a JSON object of scalar labels for an earlier prediction, logged with <c>LogLabel</c>.
/// 202 when accepted (and when the id is sampled out or the client is disabled: nothing is wrong with the request),
/// 400 with a problem description for a bad body, 503 when the client cannot take it (queue full, ended).
/// </summary>
internal sealed class LabelsEndpoint(IServiceProvider services, CometMpmEndpointOptions options, string pattern)
{
    public const string RouteParameter = "predictionId";
    private const long MaxBodyBytes = 64 * 1024;

    private readonly Lazy<(ICometMpm Client, CaptureDiagnostics Diagnostics, CometMpmMetrics? Metrics, double SampleRate, string Header)?> _setup = new(() =>
    {
        try
        {
            var diagnostics = services.GetService<CaptureDiagnostics>()
                ?? throw new CaptureSetupException($"Comet MPM labels at {pattern} need services.AddCometMpmAspNetCore() (and services.AddCometMpm()).");
            var global = services.GetRequiredService<IOptions<CometMpmAspNetCoreOptions>>().Value;
            var model = options.Model ?? global.Model;
            var client = CaptureClients.Resolve(services, model, $"the labels endpoint {pattern}");
            var rate = options.SampleRate ?? services.GetService<CaptureSampleRates>()?.For(model) ?? global.SampleRate;
            if (!(rate >= 0 && rate <= 1))
            {
                throw new CaptureSetupException($"The Comet MPM sample rate of the labels endpoint {pattern} is {rate} but must be between 0 and 1.");
            }

            return (client, diagnostics, diagnostics.ForClient(model), rate, global.PredictionIdHeader);
        }
        catch (CaptureSetupException ex)
        {
            services.GetService<CaptureProblems>()?.Report(ex.Message);
            return null;
        }
    });

    /// <summary>Resolves the endpoint's client and settings; a problem is reported to <see cref="CaptureProblems"/>.</summary>
    public bool Check() => _setup.Value is not null;

    public async Task HandleAsync(HttpContext http)
    {
        if (_setup.Value is not { } setup)
        {
            // Misconfigured (the start-up check fails start on it; reached only when that check did not run).
            await Problem(http, "Comet MPM labels are not set up on this server; see its log.", StatusCodes.Status503ServiceUnavailable);
            return;
        }

        var (client, diagnostics, metrics, rate, header) = setup;
        var predictionId = http.Request.RouteValues[RouteParameter] as string;
        if (string.IsNullOrWhiteSpace(predictionId))
        {
            await Problem(http, "The prediction id in the path is empty.");
            return;
        }

        // JSON only: a form or text/plain body is what a cross-site form can send with the user's cookies.
        if (!http.Request.HasJsonContentType())
        {
            await Problem(http, "Labels are sent as JSON: set Content-Type: application/json.", StatusCodes.Status415UnsupportedMediaType);
            return;
        }

        if (http.Request.ContentLength > MaxBodyBytes)
        {
            await Problem(http, $"The labels body is larger than {MaxBodyBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
            return;
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        Dictionary<string, object?> labels;
        try
        {
            using var document = await JsonDocument.ParseAsync(http.Request.Body, default, http.RequestAborted);
            if (ReadLabels(document.RootElement, out labels) is { } error)
            {
                CaptureLog.LabelsRefused(diagnostics.Logger, predictionId, error);
                await Problem(http, error);
                return;
            }
        }
        catch (JsonException ex)
        {
            await Problem(http, $"The body is not valid JSON: {ex.Message} Send a JSON object of labels, e.g. {{\"is_fraud\": true}}.");
            return;
        }

        // Echoed only when a header can carry it: any id LogEvent accepts can be labelled, non-ASCII ones included.
        if (http.Response.Headers is { IsReadOnly: false } headers && predictionId.Length <= 1024 && IsHeaderSafe(predictionId))
        {
            headers[header] = predictionId;
        }

        if (!CometMpmSampler.IsSampled(predictionId, rate))
        {
            // Its prediction was not captured either: a label alone would only be noise.
            CaptureDiagnostics.SampledOut(metrics);
            http.Response.StatusCode = StatusCodes.Status202Accepted;
            return;
        }

        var result = client.LogLabel(predictionId, labels);
        switch (result.Status)
        {
            case LogStatus.Accepted or LogStatus.Disabled:
                http.Response.StatusCode = StatusCodes.Status202Accepted;
                break;
            case LogStatus.InvalidInput:
                await Problem(http, result.Message ?? "The labels are invalid.");
                break;
            default:
                http.Response.Headers.RetryAfter = "1";
                await Problem(http, result.Message ?? "The labels cannot be taken now.", StatusCodes.Status503ServiceUnavailable);
                break;
        }
    }

    internal static string? ReadLabels(JsonElement root, out Dictionary<string, object?> labels)
    {
        labels = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (root.ValueKind != JsonValueKind.Object)
        {
            return $"The body must be a JSON object of labels, e.g. {{\"is_fraud\": true}}, but it is {Article(root.ValueKind)}.";
        }

        foreach (var property in root.EnumerateObject())
        {
            if (string.IsNullOrWhiteSpace(property.Name))
            {
                return "A label has an empty name.";
            }

            // The type table LogLabel applies: a scalar is copied out of the request's document (a number keeps its
            // JSON text, as the command-line tool sends it), an object or array is refused here with a 400.
            if (!ValueNormalizer.TryNormalizeToObject(property.Value, out var value))
            {
                return $"The label '{property.Name}' is {Article(property.Value.ValueKind)}: labels must be scalars (a string, number, true/false or null).";
            }

            labels[property.Name] = value;
        }

        return labels.Count == 0 ? "The body has no labels: send a JSON object such as {\"is_fraud\": true}." : null;
    }

    private static bool IsHeaderSafe(string value)
    {
        foreach (var c in value)
        {
            if (c is < ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    private static string Article(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static Task Problem(HttpContext http, string detail, int status = StatusCodes.Status400BadRequest) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: status == 400 ? "Invalid labels" : null).ExecuteAsync(http);
}
