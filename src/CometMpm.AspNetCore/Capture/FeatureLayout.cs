using CometMpm.Events;

namespace CometMpm.AspNetCore.Capture;

/// <summary>
/// The schema of a plan's input or of one output type, with the slots of its accessors (a collection takes one per item),
/// then its scalar names, then one appended name (the trace id for inputs, the status code for outputs; it takes the
/// slot of an earlier feature of the same name, whose value it replaces when it has one).
/// </summary>
internal sealed class FeatureLayout
{
    private readonly FeatureAccessor[] _accessors;

    private FeatureLayout(FeatureSchema schema, FeatureAccessor[] accessors, int accessorSlots, int scalarSlots, int appendedSlot)
    {
        Schema = schema;
        _accessors = accessors;
        AccessorSlots = accessorSlots;
        ScalarSlots = scalarSlots;
        AppendedSlot = appendedSlot;
    }

    public FeatureSchema Schema { get; }

    public int AccessorSlots { get; }

    public int ScalarSlots { get; }

    /// <summary>The appended name's slot; -1 without one.</summary>
    public int AppendedSlot { get; }

    public static FeatureLayout Create(FeatureAccessor[] accessors, IEnumerable<string> scalars, string? appended)
    {
        var names = new List<string>();
        foreach (var accessor in accessors)
        {
            if (accessor.ItemNames is { } items)
            {
                names.AddRange(items);
            }
            else
            {
                names.Add(accessor.Name);
            }
        }

        var accessorSlots = names.Count;
        names.AddRange(scalars);
        var scalarSlots = names.Count - accessorSlots;
        var appendedSlot = -1;
        if (appended is not null)
        {
            appendedSlot = names.IndexOf(appended);
            if (appendedSlot < 0)
            {
                appendedSlot = names.Count;
                names.Add(appended);
            }
        }

        return new FeatureLayout(new FeatureSchema([.. names]), accessors, accessorSlots, scalarSlots, appendedSlot);
    }

    /// <summary>Writes every accessor's slots from <paramref name="root"/>.</summary>
    public void Write(object root, FeatureValue[] values)
    {
        var offset = 0;
        foreach (var accessor in _accessors)
        {
            var width = accessor.Width;
            accessor.Write(root, values.AsSpan(offset, width));
            offset += width;
        }
    }

    public static int CountPresent(FeatureValue[] values)
    {
        var count = 0;
        foreach (var value in values)
        {
            if (!value.IsMissing)
            {
                count++;
            }
        }

        return count;
    }
}
