using System.Globalization;
using System.Net.Mime;
using System.Text.Json;
using CometMpm.Emulator.Faults;
using CometMpm.Emulator.Persistence;
using CometMpm.Emulator.Serialization;

namespace CometMpm.Emulator.Ingestion;

/// <summary>Handles <c>POST {base}v2/events/batch</c> and <c>POST {base}v2/labels/batch</c>.</summary>
internal sealed class BatchHandler(EmulatorStore store, FaultInjector faults, MpmEmulatorOptions options)
{
    public async Task HandleAsync(HttpContext context, bool labelEvents)
    {
        var cancellationToken = context.RequestAborted;
        if (!IsJson(context.Request.ContentType))
        {
            await WriteAsync(context, StatusCodes.Status415UnsupportedMediaType,
                new ApiResponse(415, $"Content-Type must be application/json, got '{context.Request.ContentType}'")).ConfigureAwait(false);
            return;
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, default, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            await WriteAsync(context, 400, new ApiResponse(400, "malformed JSON: " + ex.Message)).ConfigureAwait(false);
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                await WriteAsync(context, 400, new ApiResponse(400,
                    "the body must be an object {\"data\": [...]}; a bare array is the format of SDKs before 1.0")).ConfigureAwait(false);
                return;
            }

            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data))
            {
                await WriteAsync(context, 400, new ApiResponse(400,
                    "missing 'data': the body must be an object {\"data\": [...]} holding an array of events")).ConfigureAwait(false);
                return;
            }

            if (data.ValueKind != JsonValueKind.Array)
            {
                await WriteAsync(context, 400, new ApiResponse(400,
                    $"'data' must be an array of events, got {EventValidator.KindName(data.ValueKind)}")).ConfigureAwait(false);
                return;
            }

            var strict = options.RejectWholeBatch || IsTrue(context.Request.Query["enforceValidation"]);
            var validator = new EventValidator();
            var valid = new List<IncomingEvent>(data.GetArrayLength());
            var errors = new List<EventError>();
            var index = 0;
            foreach (var item in data.EnumerateArray())
            {
                var incoming = validator.Validate(item, index, labelEvents, errors);
                if (incoming is not null)
                {
                    if (faults.Rejects(incoming.PredictionId))
                    {
                        errors.Add(new EventError(index, incoming.PredictionId, "predictionId",
                            "rejected by the emulator's fault plan (rejectPredictionIds)"));
                    }
                    else
                    {
                        valid.Add(incoming);
                    }
                }

                index++;
            }

            var target = labelEvents ? StoreTarget.Labels : StoreTarget.Predictions;
            if (errors.Count == 0)
            {
                await store.WriteAsync(target, null, valid, cancellationToken).ConfigureAwait(false);
                await WriteAsync(context, 200, new ApiResponse(200)).ConfigureAwait(false);
                return;
            }

            var invalidEvents = index - valid.Count;
            string message;
            var stored = 0;
            if (strict)
            {
                message = string.Create(CultureInfo.InvariantCulture,
                    $"{invalidEvents} of {index} events are invalid; nothing was stored (strict validation rejects the whole batch)");
            }
            else
            {
                stored = (await store.WriteAsync(target, null, valid, cancellationToken).ConfigureAwait(false)).Stored;
                message = string.Create(CultureInfo.InvariantCulture,
                    $"{invalidEvents} of {index} events are invalid and were not stored; the {valid.Count} valid events were accepted");
            }

            await WriteAsync(context, 400, new ApiResponse(400, message, errors, stored, invalidEvents)).ConfigureAwait(false);
        }
    }

    public static Task WriteAsync(HttpContext context, int status, ApiResponse response)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(response, EmulatorJsonContext.Default.ApiResponse, cancellationToken: context.RequestAborted);
    }

    private static bool IsTrue(string? value) => bool.TryParse(value, out var flag) && flag;

    private static bool IsJson(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        try
        {
            var mediaType = new ContentType(contentType).MediaType;
            return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
