using System.Collections;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using CometMpm.Events;

namespace CometMpm.AspNetCore.Capture;

/// <summary>
/// Reads one feature from a root object through a chain of property getters built once (from the serializer's
/// <c>JsonPropertyInfo.Get</c> delegates), and normalizes the value to a scalar the client sends.
/// </summary>
internal sealed class FeatureAccessor
{
    private readonly Func<object, object?>[] _path;
    private readonly string[]? _itemNames;

    public FeatureAccessor(string name, Func<object, object?>[] path, int maxItems = 0)
    {
        Name = name;
        _path = path;
        if (maxItems > 0)
        {
            _itemNames = new string[maxItems];
            for (var i = 0; i < maxItems; i++)
            {
                _itemNames[i] = name + "." + i.ToString(CultureInfo.InvariantCulture);
            }
        }
    }

    public string Name { get; }

    /// <summary>True for a collection opted in with [CometMpmFeature]: it writes one feature per item.</summary>
    public bool IsCollection => _itemNames is not null;

    /// <summary>Writes the feature (or, for a collection, its items) into the builder.</summary>
    public void Write(object root, ref FeatureBuilder builder)
    {
        object? current = root;
        foreach (var getter in _path)
        {
            if (current is null)
            {
                break;
            }

            current = getter(current);
        }

        if (_itemNames is null)
        {
            builder.Add(Name, Normalize(current));
            return;
        }

        if (current is IEnumerable items and not string)
        {
            var index = 0;
            foreach (var item in items)
            {
                if (index == _itemNames.Length)
                {
                    break;
                }

                builder.Add(_itemNames[index++], Normalize(item));
            }
        }
    }

    /// <summary>
    /// Normalizes a value the way the client does (<see cref="EventFactory.TryNormalizeValue"/>), and formats the
    /// scalars it does not take (dates and times, URIs, big integers) as invariant strings; anything else is null.
    /// </summary>
    public static object? Normalize(object? value)
    {
        if (EventFactory.TryNormalizeValue(value, out var normalized))
        {
            return normalized;
        }

        return value switch
        {
            DateTime d => d.ToString("O", CultureInfo.InvariantCulture),
            DateTimeOffset d => d.ToString("O", CultureInfo.InvariantCulture),
            DateOnly d => d.ToString("O", CultureInfo.InvariantCulture),
            TimeOnly t => t.ToString("O", CultureInfo.InvariantCulture),
            TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
            Half h => Normalize((double)h),
            nint n => (long)n,
            nuint n => (ulong)n,
            Uri u => u.OriginalString,
            Int128 or UInt128 or BigInteger => ((IFormattable)value).ToString(null, CultureInfo.InvariantCulture),
            _ => null,
        };
    }

    /// <summary>Whether values of a type are scalars the capture sends as one feature.</summary>
    public static bool IsScalarType(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum
            || t == typeof(string) || t == typeof(decimal) || t == typeof(Guid)
            || t == typeof(DateTime) || t == typeof(DateTimeOffset) || t == typeof(DateOnly) || t == typeof(TimeOnly) || t == typeof(TimeSpan)
            || t == typeof(Uri) || t == typeof(Half) || t == typeof(Int128) || t == typeof(UInt128) || t == typeof(BigInteger)
            || t == typeof(JsonElement) || t == typeof(object);
    }
}

/// <summary>Builds the array of a <see cref="CometMpm.Events.FeatureMap"/>, sized once in the common case.</summary>
internal struct FeatureBuilder(int capacity)
{
    private KeyValuePair<string, object?>[] _items = capacity == 0 ? [] : new KeyValuePair<string, object?>[capacity];

    public int Count { get; private set; }

    public void Add(string name, object? value)
    {
        if (Count == _items.Length)
        {
            Array.Resize(ref _items, Math.Max(4, _items.Length * 2));
        }

        _items[Count++] = new KeyValuePair<string, object?>(name, value);
    }

    /// <summary>Adds or replaces by name.</summary>
    public void Set(string name, object? value)
    {
        for (var i = 0; i < Count; i++)
        {
            if (string.Equals(_items[i].Key, name, StringComparison.Ordinal))
            {
                _items[i] = new KeyValuePair<string, object?>(name, value);
                return;
            }
        }

        Add(name, value);
    }

    public KeyValuePair<string, object?>[] ToArray()
    {
        if (Count != _items.Length)
        {
            Array.Resize(ref _items, Count);
        }

        return _items;
    }
}
