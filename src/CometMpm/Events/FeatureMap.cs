namespace CometMpm.Events;

/// <summary>
/// An immutable, ordered copy of a feature (or label) map whose values are already normalized to
/// the scalars the serializer writes: string, bool, integer types, float, double, decimal,
/// <see cref="System.Text.Json.JsonElement"/> of a scalar kind, or null.
/// </summary>
internal sealed class FeatureMap(KeyValuePair<string, object?>[] items)
{
    public static readonly FeatureMap Empty = new([]);

    public KeyValuePair<string, object?>[] Items { get; } = items;

    /// <summary>About how many bytes the map takes in memory and on the wire; bounds the queue by bytes.</summary>
    public int ApproximateBytes { get; } = Estimate(items);

    public int Count => Items.Length;

    /// <summary>The estimate of <see cref="ApproximateBytes"/> for a map of these items.</summary>
    internal static int Estimate(KeyValuePair<string, object?>[] items)
    {
        var bytes = EmptyBytes;
        foreach (var (name, value) in items)
        {
            bytes += EntryBytes(name, value);
        }

        return bytes;
    }

    internal const int EmptyBytes = 16;

    internal static int EntryBytes(string name, object? value) => 24 + name.Length + (value is string s ? s.Length : 8);
}
