using System.Text.Json.Serialization;

namespace CometMpm.Serialization;

/// <summary>
/// An immutable, ordered copy of a feature (or label) map whose values are already normalized to
/// the scalars the serializer writes: string, bool, integer types, float, double, decimal,
/// <see cref="System.Text.Json.JsonElement"/> of a scalar kind, or null.
/// </summary>
[JsonConverter(typeof(FeatureMapConverter))]
internal sealed class FeatureMap(KeyValuePair<string, object?>[] items)
{
    public static readonly FeatureMap Empty = new([]);

    public KeyValuePair<string, object?>[] Items { get; } = items;

    public int Count => Items.Length;

    public object? this[string name]
    {
        get
        {
            foreach (var item in Items)
            {
                if (item.Key == name)
                {
                    return item.Value;
                }
            }

            throw new KeyNotFoundException(name);
        }
    }
}
