using System.Runtime.CompilerServices;

namespace CometMpm.Events;

/// <summary>
/// One normalized feature or label value, 16 bytes, without boxing: numbers and booleans are kept in
/// <c>_bits</c> with a kind marker in <c>_ref</c>; a string is <c>_ref</c> itself; the rare kinds (decimal, a JSON
/// element, a number the caller had boxed already) are kept by reference. <c>default</c> is JSON null.
/// </summary>
/// <remarks>
/// A value made by <see cref="ValueNormalizer"/> or the typed <c>From</c> methods is always one of the scalars the
/// serializer writes; the kind markers are internal, so no caller-supplied object can be mistaken for one.
/// </remarks>
internal readonly struct FeatureValue
{
    private readonly object? _ref;
    private readonly long _bits;

    private FeatureValue(object? reference, long bits)
    {
        _ref = reference;
        _bits = bits;
    }

    /// <summary>JSON null.</summary>
    public static FeatureValue Null => default;

    /// <summary>Not there at all: a slot of a schema this event leaves out (a collection with fewer items).</summary>
    public static FeatureValue Missing { get; } = new(ValueKind.Missing, 0);

    public bool IsMissing => ReferenceEquals(_ref, ValueKind.Missing);

    /// <summary>The string, marker or boxed value; see <see cref="ValueKind"/>.</summary>
    internal object? Reference => _ref;

    internal long Bits => _bits;

    public static FeatureValue FromString(string? value) => new(value, 0);

    public static FeatureValue FromBoolean(bool value) => new(ValueKind.Boolean, value ? 1 : 0);

    public static FeatureValue FromInt64(long value) => new(ValueKind.Int64, value);

    public static FeatureValue FromUInt64(ulong value) => new(ValueKind.UInt64, unchecked((long)value));

    /// <summary>A double; NaN and ±Infinity become null (JSON cannot carry them).</summary>
    public static FeatureValue FromDouble(double value) =>
        double.IsFinite(value) ? new(ValueKind.Double, BitConverter.DoubleToInt64Bits(value)) : default;

    /// <summary>A float, kept as a float: it is written with its own shortest form (0.1f is 0.1, not 0.10000000149011612).</summary>
    public static FeatureValue FromSingle(float value) =>
        float.IsFinite(value) ? new(ValueKind.Single, BitConverter.SingleToInt32Bits(value)) : default;

    /// <summary>A value the type table already normalized that is kept by reference (decimal, a JSON element copy).</summary>
    internal static FeatureValue FromNormalizedReference(object value) => new(value, 0);

    /// <summary>
    /// A value of a statically known type without boxing the common scalars (the JIT removes every branch but one per
    /// <typeparamref name="T"/>); anything else goes through the type table, and a value it refuses becomes null.
    /// </summary>
    public static FeatureValue From<T>(T value)
    {
        if (typeof(T) == typeof(double))
        {
            return FromDouble(Unsafe.As<T, double>(ref value));
        }

        if (typeof(T) == typeof(int))
        {
            return FromInt64(Unsafe.As<T, int>(ref value));
        }

        if (typeof(T) == typeof(long))
        {
            return FromInt64(Unsafe.As<T, long>(ref value));
        }

        if (typeof(T) == typeof(bool))
        {
            return FromBoolean(Unsafe.As<T, bool>(ref value));
        }

        if (typeof(T) == typeof(float))
        {
            return FromSingle(Unsafe.As<T, float>(ref value));
        }

        if (typeof(T) == typeof(string))
        {
            return FromString(Unsafe.As<T, string?>(ref value));
        }

        if (typeof(T) == typeof(short))
        {
            return FromInt64(Unsafe.As<T, short>(ref value));
        }

        if (typeof(T) == typeof(byte))
        {
            return FromInt64(Unsafe.As<T, byte>(ref value));
        }

        if (typeof(T) == typeof(uint))
        {
            return FromInt64(Unsafe.As<T, uint>(ref value));
        }

        if (typeof(T) == typeof(ulong))
        {
            return FromUInt64(Unsafe.As<T, ulong>(ref value));
        }

        if (typeof(T) == typeof(double?))
        {
            return Unsafe.As<T, double?>(ref value) is { } d ? FromDouble(d) : default;
        }

        if (typeof(T) == typeof(int?))
        {
            return Unsafe.As<T, int?>(ref value) is { } i ? FromInt64(i) : default;
        }

        if (typeof(T) == typeof(long?))
        {
            return Unsafe.As<T, long?>(ref value) is { } l ? FromInt64(l) : default;
        }

        if (typeof(T) == typeof(bool?))
        {
            return Unsafe.As<T, bool?>(ref value) is { } b ? FromBoolean(b) : default;
        }

        if (typeof(T) == typeof(float?))
        {
            return Unsafe.As<T, float?>(ref value) is { } f ? FromSingle(f) : default;
        }

        if (typeof(T).IsEnum)
        {
            return FromString(EnumNames<T>.Get(value));
        }

        return ValueNormalizer.TryNormalize(value, out FeatureValue normalized) ? normalized : default;
    }

    /// <summary>Enum names without boxing per value: each value's name is made (and boxed) once.</summary>
    private static class EnumNames<T>
    {
        private const int MaxCached = 256;
        // T is an enum here, never null.
#pragma warning disable CS8714
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<T, string> Names = new();
#pragma warning restore CS8714
        private static int s_count;

        public static string Get(T value)
        {
            if (Names.TryGetValue(value, out var name))
            {
                return name;
            }

            // The same string the type table makes (a flags combination included); not cached beyond a bound.
            name = value!.ToString()!;
            if (Volatile.Read(ref s_count) < MaxCached && Names.TryAdd(value, name))
            {
                Interlocked.Increment(ref s_count);
            }

            return name;
        }
    }

    /// <summary>The value as an object (boxing numbers): for the paths that hand a dictionary to <see cref="ICometMpm"/>.</summary>
    public object? ToObject() => _ref is ValueKind kind
        ? kind.Code switch
        {
            ValueKindCode.Boolean => _bits != 0,
            ValueKindCode.Int64 => _bits,
            ValueKindCode.UInt64 => unchecked((ulong)_bits),
            ValueKindCode.Double => BitConverter.Int64BitsToDouble(_bits),
            ValueKindCode.Single => BitConverter.Int32BitsToSingle((int)_bits),
            _ => null,
        }
        : _ref;

    /// <summary>About how many bytes the value adds to an event's in-memory size (the queue is bounded by it).</summary>
    public int ApproximateBytes => _ref is string s ? s.Length : 8;
}

/// <summary>What an unboxed <see cref="FeatureValue"/> holds.</summary>
internal enum ValueKindCode : byte
{
    Missing,
    Boolean,
    Int64,
    UInt64,
    Double,
    Single,
}

/// <summary>The markers of <see cref="FeatureValue"/>'s unboxed kinds (one instance per kind, compared by reference or code).</summary>
internal sealed class ValueKind
{
    public static readonly ValueKind Missing = new(ValueKindCode.Missing);
    public static readonly ValueKind Boolean = new(ValueKindCode.Boolean);
    public static readonly ValueKind Int64 = new(ValueKindCode.Int64);
    public static readonly ValueKind UInt64 = new(ValueKindCode.UInt64);
    public static readonly ValueKind Double = new(ValueKindCode.Double);
    public static readonly ValueKind Single = new(ValueKindCode.Single);

    private ValueKind(ValueKindCode code) => Code = code;

    public ValueKindCode Code { get; }
}
