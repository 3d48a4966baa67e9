using System.Globalization;
using System.Numerics;
using System.Text.Json;

namespace CometMpm.Events;

/// <summary>
/// The one type table deciding what a feature or label value becomes on the wire, for every entry point
/// (<c>LogEvent</c>, <c>LogLabel</c>, capture, rows and data frames, the labels endpoint, the command-line tool).
/// The result is a <see cref="FeatureValue"/>: null, a string, a bool, an integer, a float or double (unboxed), a
/// decimal, or a <see cref="JsonElement"/> of a scalar kind that owns its memory.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>value</term><description>sent as</description></listheader>
/// <item><term>null</term><description>null</description></item>
/// <item><term>string, bool</term><description>itself</description></item>
/// <item><term>int, long, short, byte, sbyte, ushort, uint, ulong, decimal</term><description>itself (a JSON number, full precision)</description></item>
/// <item><term>double, float</term><description>itself; NaN and ±Infinity become null</description></item>
/// <item><term>Half</term><description>double (NaN and ±Infinity become null)</description></item>
/// <item><term>nint, nuint</term><description>long, ulong</description></item>
/// <item><term>Int128, UInt128, BigInteger</term><description>invariant string (a JSON number would lose precision in the backend)</description></item>
/// <item><term>char, enum, Guid</term><description>string (enum: its name)</description></item>
/// <item><term>DateTime, DateTimeOffset, DateOnly, TimeOnly</term><description>ISO 8601 string, format "O"</description></item>
/// <item><term>TimeSpan</term><description>invariant string, format "c" (<c>[-][d.]hh:mm:ss[.fffffff]</c>)</description></item>
/// <item><term>Uri</term><description><see cref="Uri.OriginalString"/></description></item>
/// <item><term>JsonElement</term><description>string, number, true, false or null kinds: a copy; objects, arrays and a disposed document: refused</description></item>
/// <item><term>anything else</term><description>refused (objects, collections)</description></item>
/// </list>
/// The date, time, URI and big-integer rows are a .NET extension: the Python SDK's <c>json.dumps</c> fails on a
/// <c>datetime</c>. They are formatted here so that every entry point sends the same string for the same value.
/// </remarks>
internal static class ValueNormalizer
{
    /// <summary>What a refused value's message says is accepted.</summary>
    internal const string Accepted = "values must be a string, bool, number, char, enum, Guid, date or time (DateTime, DateTimeOffset, DateOnly, TimeOnly, TimeSpan), Uri or null";

    /// <summary>
    /// Normalizes <paramref name="value"/> by the type table; false when it is not a scalar. Numbers and booleans are
    /// unboxed into the value (the caller's box can die young), strings and decimals kept by reference; NaN and
    /// ±Infinity become null (a missing value, as the CSV upload treats "NaN"), since JSON cannot carry them and the
    /// backend would refuse the whole batch.
    /// </summary>
    internal static bool TryNormalize(object? value, out FeatureValue normalized)
    {
        // The common scalars first: this runs for every value on the request path. Null means refused.
        FeatureValue? result = value switch
        {
            null => FeatureValue.Null,
            string s => FeatureValue.FromString(s),
            double d => FeatureValue.FromDouble(d),
            int i => FeatureValue.FromInt64(i),
            bool b => FeatureValue.FromBoolean(b),
            long l => FeatureValue.FromInt64(l),
            float f => FeatureValue.FromSingle(f),
            decimal => FeatureValue.FromNormalizedReference(value),
            short s16 => FeatureValue.FromInt64(s16),
            byte u8 => FeatureValue.FromInt64(u8),
            sbyte s8 => FeatureValue.FromInt64(s8),
            ushort u16 => FeatureValue.FromInt64(u16),
            uint u32 => FeatureValue.FromInt64(u32),
            ulong u64 => FeatureValue.FromUInt64(u64),
            char c => FeatureValue.FromString(c.ToString()),
            Enum e => FeatureValue.FromString(e.ToString()),
            Guid g => FeatureValue.FromString(g.ToString()),
            JsonElement element => Copy(element),
            DateTime dateTime => FeatureValue.FromString(dateTime.ToString("O", CultureInfo.InvariantCulture)),
            DateTimeOffset dateTimeOffset => FeatureValue.FromString(dateTimeOffset.ToString("O", CultureInfo.InvariantCulture)),
            DateOnly date => FeatureValue.FromString(date.ToString("O", CultureInfo.InvariantCulture)),
            TimeOnly time => FeatureValue.FromString(time.ToString("O", CultureInfo.InvariantCulture)),
            TimeSpan span => FeatureValue.FromString(span.ToString("c", CultureInfo.InvariantCulture)),
            Uri uri => FeatureValue.FromString(uri.OriginalString),
            Half half => FeatureValue.FromDouble((double)half),
            nint native => FeatureValue.FromInt64(native),
            nuint native => FeatureValue.FromUInt64(native),
            Int128 big => FeatureValue.FromString(big.ToString(null, CultureInfo.InvariantCulture)),
            UInt128 big => FeatureValue.FromString(big.ToString(null, CultureInfo.InvariantCulture)),
            BigInteger big => FeatureValue.FromString(big.ToString(null, CultureInfo.InvariantCulture)),
            _ => null,
        };
        normalized = result.GetValueOrDefault();
        return result.HasValue;
    }

    /// <summary>
    /// The same type table for the paths that hand values on as objects (the labels endpoint, the command-line tool,
    /// dictionaries for a custom <see cref="ICometMpm"/>): a number or boolean stays the caller's object, of its type.
    /// </summary>
    internal static bool TryNormalizeToObject(object? value, out object? normalized)
    {
        if (!TryNormalize(value, out FeatureValue feature))
        {
            normalized = null;
            return false;
        }

        var isBoxedScalar = value is bool or int or long or short or byte or sbyte or ushort or uint or ulong or decimal
            || (value is double d && double.IsFinite(d)) || (value is float f && float.IsFinite(f));
        normalized = isBoxedScalar ? value : feature.ToObject();
        return true;
    }

    /// <summary>Whether values of <paramref name="type"/> (or its nullable form) are in the type table; capture decides by it at start.</summary>
    internal static bool IsSupportedType(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;

        // IsPrimitive covers bool, char, the integer types, nint, nuint, float and double.
        return t.IsPrimitive || t.IsEnum
            || t == typeof(string) || t == typeof(decimal) || t == typeof(Guid) || t == typeof(JsonElement)
            || t == typeof(DateTime) || t == typeof(DateTimeOffset) || t == typeof(DateOnly) || t == typeof(TimeOnly) || t == typeof(TimeSpan)
            || t == typeof(Uri) || t == typeof(Half) || t == typeof(Int128) || t == typeof(UInt128) || t == typeof(BigInteger);
    }

    /// <summary>
    /// The message for a refused value: <paramref name="field"/> names where it was (e.g. <c>inputFeatures["x"]</c>),
    /// <paramref name="name"/> is the entry's name, used in the suggested fix.
    /// </summary>
    internal static string NotScalar(string field, string name, object value) =>
        $"{field} is a {value.GetType().Name}, which is not a scalar: {Accepted}. Flatten nested objects into names such as \"{name}.field\", or convert the value to a string or number.";

    /// <summary>A copy of a scalar element; null (refused) for an object, an array or a disposed document.</summary>
    private static FeatureValue? Copy(JsonElement element)
    {
        // Copied: the caller may dispose its JsonDocument as soon as the call returns, long before the event is sent.
        // Reading an already disposed one throws here, on the caller's thread, and refuses the value.
        try
        {
            return element.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null
                ? FeatureValue.FromNormalizedReference(element.Clone())
                : null;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
    }
}
