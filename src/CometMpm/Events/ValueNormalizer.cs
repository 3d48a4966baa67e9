using System.Globalization;
using System.Numerics;
using System.Text.Json;

namespace CometMpm.Events;

/// <summary>
/// The one type table deciding what a feature or label value becomes on the wire, for every entry point
/// (<c>LogEvent</c>, <c>LogLabel</c>, capture, rows and data frames, the labels endpoint, the command-line tool).
/// The result is always one of the scalars the serializer writes: null, string, bool, an integer type, float,
/// double, decimal, or a <see cref="JsonElement"/> of a scalar kind that owns its memory.
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
    /// Normalizes <paramref name="value"/> by the type table; false when it is not a scalar. The common scalars
    /// are returned as the same object (no allocation); NaN and ±Infinity become null (a missing value, as the CSV
    /// upload treats "NaN"), since JSON cannot carry them and the backend would refuse the whole batch.
    /// </summary>
    internal static bool TryNormalize(object? value, out object? normalized)
    {
        normalized = value;

        // The common scalars first: this runs for every value on the request path.
        switch (value)
        {
            case null or string or bool or int or long:
                return true;
            case double d:
                if (!double.IsFinite(d))
                {
                    normalized = null;
                }

                return true;
            case float f:
                if (!float.IsFinite(f))
                {
                    normalized = null;
                }

                return true;
            case decimal or short or byte or sbyte or ushort or uint or ulong:
                return true;
            case char c:
                normalized = c.ToString();
                return true;
            case Enum e:
                normalized = e.ToString();
                return true;
            case Guid g:
                normalized = g.ToString();
                return true;
            case JsonElement element:
                return TryCopy(element, out normalized);
            case DateTime dateTime:
                normalized = dateTime.ToString("O", CultureInfo.InvariantCulture);
                return true;
            case DateTimeOffset dateTimeOffset:
                normalized = dateTimeOffset.ToString("O", CultureInfo.InvariantCulture);
                return true;
            case DateOnly date:
                normalized = date.ToString("O", CultureInfo.InvariantCulture);
                return true;
            case TimeOnly time:
                normalized = time.ToString("O", CultureInfo.InvariantCulture);
                return true;
            case TimeSpan span:
                normalized = span.ToString("c", CultureInfo.InvariantCulture);
                return true;
            case Uri uri:
                normalized = uri.OriginalString;
                return true;
            case Half half:
                var wide = (double)half;
                normalized = double.IsFinite(wide) ? wide : null;
                return true;
            case nint native:
                normalized = (long)native;
                return true;
            case nuint native:
                normalized = (ulong)native;
                return true;
            case Int128 big:
                normalized = big.ToString(null, CultureInfo.InvariantCulture);
                return true;
            case UInt128 big:
                normalized = big.ToString(null, CultureInfo.InvariantCulture);
                return true;
            case BigInteger big:
                normalized = big.ToString(null, CultureInfo.InvariantCulture);
                return true;
            default:
                return false;
        }
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

    private static bool TryCopy(JsonElement element, out object? normalized)
    {
        normalized = null;

        // Copied: the caller may dispose its JsonDocument as soon as the call returns, long before the event is sent.
        // Reading an already disposed one throws here, on the caller's thread, and refuses the value.
        try
        {
            if (element.ValueKind is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
            {
                return false;
            }

            normalized = element.Clone();
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }
}
