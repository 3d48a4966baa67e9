using System.Collections;
using System.Globalization;
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
    /// Normalizes a value by the client's one type table (<see cref="ValueNormalizer"/>), so capture sends what
    /// <c>LogEvent</c> sends; a value the table refuses becomes null, since capture never fails the request.
    /// </summary>
    public static object? Normalize(object? value) => ValueNormalizer.TryNormalize(value, out var normalized) ? normalized : null;

    /// <summary>
    /// Whether values of a type are captured as one feature: the type table's, and <see cref="object"/>, whose
    /// value is normalized when read.
    /// </summary>
    public static bool IsScalarType(Type type) => type == typeof(object) || ValueNormalizer.IsSupportedType(type);
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
