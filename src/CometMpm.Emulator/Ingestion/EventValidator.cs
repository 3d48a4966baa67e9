using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CometMpm.Emulator.Persistence;
using CometMpm.Emulator.Serialization;

namespace CometMpm.Emulator.Ingestion;

/// <summary>
/// Checks each event of a batch the way a strict backend would, and explains every problem with the
/// event's index and the field's path.
/// </summary>
internal sealed class EventValidator
{
    /// <summary>Smallest accepted timestamp: 10^11 ms (1973-03-03); anything smaller looks like seconds.</summary>
    public const long MinTimestampMs = 100_000_000_000;

    /// <summary>Largest accepted timestamp: 10^14 ms (year 5138); anything larger looks like micro- or nanoseconds.</summary>
    public const long MaxTimestampMs = 100_000_000_000_000;

    private readonly ArrayBufferWriter<byte> _buffer = new(1024);

    /// <summary>Validates one event; adds its problems to <paramref name="errors"/> and returns null when it is invalid.</summary>
    public IncomingEvent? Validate(JsonElement item, int index, bool isLabelEvent, List<EventError> errors)
    {
        var before = errors.Count;
        if (item.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new EventError(index, null, string.Empty, $"each event must be a JSON object, got {KindName(item.ValueKind)}"));
            return null;
        }

        var (predictionId, idIsNumber) = ReadPredictionId(item, out var idForErrors, out var idError);
        var model = RequiredString(item, "modelName", index, idForErrors, errors);
        var version = RequiredString(item, "modelVersion", index, idForErrors, errors);
        var workspace = RequiredString(item, "workspaceName", index, idForErrors, errors);
        if (idError is not null)
        {
            errors.Add(new EventError(index, idForErrors, "predictionId", idError));
        }

        var timestamp = ReadTimestamp(item, index, idForErrors, errors);
        string? features = null;
        string? prediction = null;
        string? labels;
        if (isLabelEvent)
        {
            labels = FlatObject(item, "labels", required: true, index, idForErrors, errors);
        }
        else
        {
            features = FlatObject(item, "features", required: false, index, idForErrors, errors);
            prediction = FlatObject(item, "prediction", required: false, index, idForErrors, errors);
            labels = FlatObject(item, "labels", required: false, index, idForErrors, errors);
            if (item.TryGetProperty("predictions", out _))
            {
                errors.Add(new EventError(index, idForErrors, "predictions",
                    "unknown field 'predictions': the output features go in 'prediction' (singular), as the Python SDK sends them"));
            }
        }

        if (errors.Count != before)
        {
            return null;
        }

        return new IncomingEvent(workspace!, model!, version!, predictionId!, idIsNumber, timestamp, features, prediction, labels);
    }

    /// <summary>The JSON type name used in messages.</summary>
    public static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static (string? Id, bool IsNumber) ReadPredictionId(JsonElement item, out string? idForErrors, out string? error)
    {
        error = null;
        idForErrors = null;
        if (!item.TryGetProperty("predictionId", out var id))
        {
            error = "required: a string or an integer number";
            return (null, false);
        }

        switch (id.ValueKind)
        {
            case JsonValueKind.String:
                idForErrors = id.GetString();
                if (string.IsNullOrEmpty(idForErrors))
                {
                    error = "must not be empty";
                    return (null, false);
                }

                return (idForErrors, false);
            case JsonValueKind.Number:
                var raw = id.GetRawText();
                idForErrors = raw;
                if (raw.AsSpan().IndexOfAny(".eE") >= 0)
                {
                    error = $"must be a string or an integer number, got the non-integer number {raw}";
                    return (null, false);
                }

                return (raw, true);
            default:
                error = $"must be a string or an integer number, got {KindName(id.ValueKind)}";
                return (null, false);
        }
    }

    private static string? RequiredString(JsonElement item, string name, int index, string? id, List<EventError> errors)
    {
        if (!item.TryGetProperty(name, out var value))
        {
            errors.Add(new EventError(index, id, name, "required: a non-empty string"));
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            errors.Add(new EventError(index, id, name, $"must be a string, got {KindName(value.ValueKind)}"));
            return null;
        }

        var text = value.GetString();
        if (string.IsNullOrWhiteSpace(text))
        {
            errors.Add(new EventError(index, id, name, "must not be empty"));
            return null;
        }

        return text;
    }

    private static long ReadTimestamp(JsonElement item, int index, string? id, List<EventError> errors)
    {
        const string Expected = "an integer number of milliseconds since the Unix epoch (UTC)";
        if (!item.TryGetProperty("timestamp", out var value))
        {
            errors.Add(new EventError(index, id, "timestamp", $"required: {Expected}"));
            return 0;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            errors.Add(new EventError(index, id, "timestamp", $"must be {Expected}, got {KindName(value.ValueKind)}"));
            return 0;
        }

        var raw = value.GetRawText();
        if (raw.AsSpan().IndexOfAny(".eE") >= 0)
        {
            errors.Add(new EventError(index, id, "timestamp",
                $"must be {Expected}, got the float {raw}; the Python SDK sends int(seconds * 1000), which truncates"));
            return 0;
        }

        if (!value.TryGetInt64(out var ms))
        {
            errors.Add(new EventError(index, id, "timestamp", $"must be {Expected}, got {raw}, which is out of range"));
            return 0;
        }

        if (ms < MinTimestampMs)
        {
            var hint = ms > 0 ? $" {raw} looks like seconds: send {(ms * 1000).ToString(CultureInfo.InvariantCulture)} milliseconds instead." : string.Empty;
            errors.Add(new EventError(index, id, "timestamp",
                $"must be {Expected}, at least {MinTimestampMs.ToString(CultureInfo.InvariantCulture)} (1973-03-03).{hint}"));
            return 0;
        }

        if (ms > MaxTimestampMs)
        {
            errors.Add(new EventError(index, id, "timestamp",
                $"must be {Expected}; {raw} is after year 5000 and looks like microseconds or nanoseconds"));
            return 0;
        }

        return ms;
    }

    private string? FlatObject(JsonElement item, string name, bool required, int index, string? id, List<EventError> errors)
    {
        const string Allowed = "a string, a number, a boolean or null";
        if (!item.TryGetProperty(name, out var value))
        {
            if (required)
            {
                errors.Add(new EventError(index, id, name, $"required: a flat object whose values are {Allowed}"));
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new EventError(index, id, name,
                $"must be a flat object whose values are {Allowed}, got {KindName(value.ValueKind)}"));
            return null;
        }

        var ok = true;
        foreach (var property in value.EnumerateObject())
        {
            if (property.Name.Length == 0)
            {
                errors.Add(new EventError(index, id, name + ".", "names must not be empty"));
                ok = false;
                continue;
            }

            if (property.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
            {
                errors.Add(new EventError(index, id, name + "." + property.Name,
                    $"must be {Allowed}, got {KindName(property.Value.ValueKind)}: nested values are not supported, flatten them (e.g. '{property.Name}_x')"));
                ok = false;
            }
        }

        if (!ok)
        {
            return null;
        }

        _buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(_buffer))
        {
            value.WriteTo(writer);
        }

        return Encoding.UTF8.GetString(_buffer.WrittenSpan);
    }
}
