using System.Globalization;
using System.Text.Json;
using CometMpm.Events;

namespace CometMpm.Serialization;

/// <summary>
/// Writes one <see cref="MpmEvent"/> as the wire JSON of protocol §4, properties in the Python SDK's order. Every fixed
/// name, the model identity and the schema names are pre-encoded; only the prediction id and string values are escaped
/// per event. Integers keep full precision and floating-point values keep a decimal point (<c>1.0</c>, not <c>1</c>), so
/// the caller's integer/float distinction reaches the backend as the Python SDK sends it.
/// </summary>
internal static class EventWriter
{
    private static readonly JsonEncodedText ModelNameName = JsonEncodedText.Encode("modelName");
    private static readonly JsonEncodedText ModelVersionName = JsonEncodedText.Encode("modelVersion");
    private static readonly JsonEncodedText WorkspaceNameName = JsonEncodedText.Encode("workspaceName");
    private static readonly JsonEncodedText PredictionIdName = JsonEncodedText.Encode("predictionId");
    private static readonly JsonEncodedText TimestampName = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText FeaturesName = JsonEncodedText.Encode("features");
    private static readonly JsonEncodedText PredictionName = JsonEncodedText.Encode("prediction");
    private static readonly JsonEncodedText LabelsName = JsonEncodedText.Encode("labels");

    public static void Write(Utf8JsonWriter writer, MpmEvent mpmEvent)
    {
        var model = mpmEvent.Model;
        writer.WriteStartObject();
        writer.WriteString(ModelNameName, model.EncodedModelName);
        writer.WriteString(ModelVersionName, model.EncodedModelVersion);
        writer.WriteString(WorkspaceNameName, model.EncodedWorkspaceName);
        writer.WriteString(PredictionIdName, mpmEvent.PredictionId);
        writer.WriteNumber(TimestampName, mpmEvent.Timestamp);
        WriteMap(writer, FeaturesName, mpmEvent.Features);
        WriteMap(writer, PredictionName, mpmEvent.Prediction);
        WriteMap(writer, LabelsName, mpmEvent.Labels);
        writer.WriteEndObject();
    }

    private static void WriteMap(Utf8JsonWriter writer, JsonEncodedText property, FeatureMap map)
    {
        if (!map.IsPresent)
        {
            return;
        }

        writer.WriteStartObject(property);
        var names = map.Schema.EncodedNames;
        var values = map.Values;
        for (var i = 0; i < values.Length; i++)
        {
            var value = values[i];
            if (value.IsMissing)
            {
                continue;
            }

            writer.WritePropertyName(names[i]);
            WriteValue(writer, value);
        }

        writer.WriteEndObject();
    }

    internal static void WriteValue(Utf8JsonWriter writer, FeatureValue value)
    {
        switch (value.Reference)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case ValueKind kind:
                WriteUnboxed(writer, kind.Code, value.Bits);
                break;
            case decimal m:
                writer.WriteNumberValue(m);
                break;
            case JsonElement element:
                element.WriteTo(writer);
                break;
            default:
                // Unreachable: values are normalized when the event is built.
                throw new InvalidOperationException($"Unexpected feature value type {value.Reference.GetType()}.");
        }
    }

    private static void WriteUnboxed(Utf8JsonWriter writer, ValueKindCode code, long bits)
    {
        switch (code)
        {
            case ValueKindCode.Double:
                WriteFloating(writer, BitConverter.Int64BitsToDouble(bits));
                break;
            case ValueKindCode.Int64:
                writer.WriteNumberValue(bits);
                break;
            case ValueKindCode.Boolean:
                writer.WriteBooleanValue(bits != 0);
                break;
            case ValueKindCode.Single:
                WriteFloating(writer, BitConverter.Int32BitsToSingle((int)bits));
                break;
            case ValueKindCode.UInt64:
                writer.WriteNumberValue(unchecked((ulong)bits));
                break;
            default:
                throw new InvalidOperationException($"Unexpected feature value kind {code}.");
        }
    }

    // The default format is the shortest string that round-trips (as "R" is since .NET Core 3.0), about 10 % faster.
    private static void WriteFloating<T>(Utf8JsonWriter writer, T value)
        where T : IUtf8SpanFormattable, IFormattable
    {
        // 40 bytes hold any double or float (the longest is 24 characters); the fallback is for safety only.
        Span<byte> buffer = stackalloc byte[40];
        if (!value.TryFormat(buffer, out var written, default, CultureInfo.InvariantCulture))
        {
            writer.WriteRawValue(value.ToString(null, CultureInfo.InvariantCulture), skipInputValidation: true);
            return;
        }

        WriteWithDecimalPoint(writer, buffer, written);
    }

    private static void WriteWithDecimalPoint(Utf8JsonWriter writer, Span<byte> buffer, int written)
    {
        if (buffer[..written].IndexOfAny((byte)'.', (byte)'E', (byte)'e') < 0)
        {
            buffer[written++] = (byte)'.';
            buffer[written++] = (byte)'0';
        }

        writer.WriteRawValue(buffer[..written], skipInputValidation: true);
    }
}
