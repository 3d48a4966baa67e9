using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CometMpm.Serialization;

/// <summary>
/// Writes a normalized feature (or label) item array as a flat JSON object. Integers keep full precision and
/// floating-point values keep a decimal point (<c>1.0</c>, not <c>1</c>), so the caller's
/// integer/float distinction reaches the backend as the Python SDK sends it.
/// </summary>
internal sealed class FeatureItemsConverter : JsonConverter<KeyValuePair<string, object?>[]>
{
    public override KeyValuePair<string, object?>[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Feature maps are only written.");

    public override void Write(Utf8JsonWriter writer, KeyValuePair<string, object?>[] value, JsonSerializerOptions options) => WriteItems(writer, value);

    internal static void WriteItems(Utf8JsonWriter writer, KeyValuePair<string, object?>[] items)
    {
        writer.WriteStartObject();
        foreach (var (name, item) in items)
        {
            writer.WritePropertyName(name);
            WriteScalar(writer, item);
        }

        writer.WriteEndObject();
    }

    internal static void WriteScalar(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case string s: writer.WriteStringValue(s); break;
            case double d: WriteFloating(writer, d); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case int i: writer.WriteNumberValue(i); break;
            case long l: writer.WriteNumberValue(l); break;
            case float f: WriteFloating(writer, f); break;
            case decimal m: writer.WriteNumberValue(m); break;
            case short s16: writer.WriteNumberValue(s16); break;
            case byte u8: writer.WriteNumberValue(u8); break;
            case sbyte s8: writer.WriteNumberValue(s8); break;
            case ushort u16: writer.WriteNumberValue(u16); break;
            case uint u32: writer.WriteNumberValue(u32); break;
            case ulong u64: writer.WriteNumberValue(u64); break;
            case JsonElement element: element.WriteTo(writer); break;
            default:
                // Unreachable: values are normalized when the event is built.
                throw new InvalidOperationException($"Unexpected feature value type {value.GetType()}.");
        }
    }

    private static void WriteFloating(Utf8JsonWriter writer, double value)
    {
        Span<byte> buffer = stackalloc byte[40];
        if (!value.TryFormat(buffer, out var written, "R", CultureInfo.InvariantCulture))
        {
            writer.WriteNumberValue(value);
            return;
        }

        WriteWithDecimalPoint(writer, buffer, written);
    }

    private static void WriteFloating(Utf8JsonWriter writer, float value)
    {
        Span<byte> buffer = stackalloc byte[40];
        if (!value.TryFormat(buffer, out var written, "R", CultureInfo.InvariantCulture))
        {
            writer.WriteNumberValue(value);
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
