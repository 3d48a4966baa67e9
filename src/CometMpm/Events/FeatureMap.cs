namespace CometMpm.Events;

/// <summary>
/// A normalized feature (or label) map: a <see cref="FeatureSchema"/> shared across events and this event's values,
/// slot by slot (a <see cref="FeatureValue.Missing"/> slot is left out of the JSON). A struct of two references: building one
/// allocates only the values array. <c>default</c> means no map.
/// </summary>
internal readonly struct FeatureMap
{
    public FeatureMap(FeatureSchema schema, FeatureValue[] values)
    {
        Schema = schema;
        Values = values;
    }

    /// <summary>A map of already normalized items, with a schema of its own (the one-off paths: rows, deprecated merges).</summary>
    public FeatureMap(KeyValuePair<string, FeatureValue>[] items)
    {
        var names = new string[items.Length];
        var values = new FeatureValue[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            (names[i], values[i]) = items[i];
        }

        Schema = new FeatureSchema(names);
        Values = values;
    }

    public static FeatureMap Empty => new(FeatureSchema.Empty, []);

    public FeatureSchema Schema { get; }

    public FeatureValue[] Values { get; }

    /// <summary>How many values are present (not <see cref="FeatureValue.Missing"/>); counted, not stored, to keep the map (and every event) small.</summary>
    public int Count
    {
        get
        {
            var count = 0;
            foreach (var value in Values ?? [])
            {
                count += value.IsMissing ? 0 : 1;
            }

            return count;
        }
    }

    /// <summary>Whether there is a map at all (<c>default</c> is none).</summary>
    public bool IsPresent => Schema is not null;

    /// <summary>About how many bytes the map takes in memory and on the wire; bounds the queue by bytes.</summary>
    public int ApproximateBytes
    {
        get
        {
            if (Schema is null)
            {
                return 0;
            }

            var bytes = EmptyBytes + Schema.NameChars;
            foreach (var value in Values)
            {
                bytes += value.IsMissing ? 0 : 24 + value.ApproximateBytes;
            }

            return bytes;
        }
    }

    /// <summary>
    /// The present entries as a dictionary of objects (numbers boxed), or null when there is no map: what a custom
    /// <see cref="ICometMpm"/> is handed by the library's own producers.
    /// </summary>
    public Dictionary<string, object?>? ToDictionary()
    {
        if (Schema is null)
        {
            return null;
        }

        var dictionary = new Dictionary<string, object?>(Values.Length, StringComparer.Ordinal);
        for (var i = 0; i < Values.Length; i++)
        {
            if (!Values[i].IsMissing)
            {
                dictionary[Schema.Names[i]] = Values[i].ToObject();
            }
        }

        return dictionary;
    }

    internal const int EmptyBytes = 16;
}
