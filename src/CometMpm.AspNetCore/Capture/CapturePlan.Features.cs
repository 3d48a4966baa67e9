using System.Diagnostics;
using CometMpm.AspNetCore.Diagnostics;
using CometMpm.Events;

namespace CometMpm.AspNetCore.Capture;

/// <summary>Reading a request's features into the plan's layouts, and merging what the handler added.</summary>
internal sealed partial class CapturePlan
{
    /// <summary>
    /// The input features, into the plan's schema: the root's accessors (or the scalar arguments), then the trace id.
    /// Without any input the map is left out; with a root that is null, it is sent empty.
    /// </summary>
    private FeatureMap ReadInputs<TArguments>(object? root, TArguments arguments, Activity? activity)
        where TArguments : IArgumentSource
    {
        var layout = _inputLayout;
        if (layout.Schema.Count == 0)
        {
            return _input.HasRoot ? FeatureMap.Empty : default;
        }

        var values = new FeatureValue[layout.Schema.Count];
        if (_input.HasRoot)
        {
            if (root is null)
            {
                values.AsSpan(0, layout.AccessorSlots).Fill(FeatureValue.Missing);
            }
            else
            {
                layout.Write(root, values);
            }
        }
        else
        {
            var scalars = _input.Scalars;
            for (var i = 0; i < scalars.Length; i++)
            {
                values[i] = FeatureAccessor.Normalize(arguments.Get(scalars[i].Index, scalars[i].Name));
            }
        }

        if (layout.AppendedSlot >= 0)
        {
            if (activity is not null)
            {
                values[layout.AppendedSlot] = FeatureValue.FromString(activity.TraceId.ToHexString());
            }
            else if (layout.AppendedSlot >= layout.AccessorSlots + layout.ScalarSlots)
            {
                // No trace: the trace id's own slot stays out; a DTO feature of the same name keeps its value.
                values[layout.AppendedSlot] = FeatureValue.Missing;
            }
        }

        var count = FeatureLayout.CountPresent(values);
        return count == 0 && !_input.HasRoot ? default : new FeatureMap(layout.Schema, values);
    }

    /// <summary>The output features of the result, into the layout of its type, with the status code when failures are captured.</summary>
    private FeatureMap ReadOutputs(object? value, int statusCode)
    {
        // Which layout a result type has (scalar types share one) is decided once per type.
        var layout = value is null
            ? _nullOutputLayout
            : _outputs.GetOrAdd(value.GetType(), static (type, self) => self.CreateOutputLayout(type), this);
        if (layout.Schema.Count == 0)
        {
            return default;
        }

        var values = new FeatureValue[layout.Schema.Count];
        if (layout == _scalarOutputLayout)
        {
            if (layout.ScalarSlots > 0)
            {
                values[0] = FeatureAccessor.Normalize(value);
            }
        }
        else if (value is not null)
        {
            layout.Write(value, values);
        }

        if (layout.AppendedSlot >= 0)
        {
            values[layout.AppendedSlot] = FeatureValue.FromInt64(statusCode);
        }

        var count = FeatureLayout.CountPresent(values);
        return count == 0 ? default : new FeatureMap(layout.Schema, values);
    }

    private FeatureLayout CreateOutputLayout(Type type)
    {
        if (FeatureAccessor.IsScalarType(type))
        {
            return _scalarOutputLayout;
        }

        var accessors = _settings.Filter(_models.Get(_json, type).Accessors);
        return FeatureLayout.Create(accessors, [], _settings.CaptureFailedResponses ? _settings.StatusCodeFeatureName : null);
    }

    /// <summary>Adds what the handler added through the prediction context; its names win over the DTO's.</summary>
    private FeatureMap Merge(FeatureMap map, List<KeyValuePair<string, object?>>? extras, string kind)
    {
        if (extras is null)
        {
            return map;
        }

        var items = new List<KeyValuePair<string, FeatureValue>>((map.IsPresent ? map.Count : 0) + extras.Count);
        if (map.IsPresent)
        {
            for (var i = 0; i < map.Values.Length; i++)
            {
                if (!map.Values[i].IsMissing)
                {
                    items.Add(new(map.Schema.Names[i], map.Values[i]));
                }
            }
        }

        foreach (var (name, raw) in extras)
        {
            if (kind != "label" && !_settings.IsAllowed(name))
            {
                continue;
            }

            if (!ValueNormalizer.TryNormalize(raw, out FeatureValue value))
            {
                CaptureLog.ExtraNotScalar(_diagnostics.Logger, kind, name, raw!.GetType().Name);
                continue;
            }

            var index = 0;
            while (index < items.Count && !string.Equals(items[index].Key, name, StringComparison.Ordinal))
            {
                index++;
            }

            if (index < items.Count)
            {
                items[index] = new(name, value);
            }
            else
            {
                items.Add(new(name, value));
            }
        }

        return new FeatureMap([.. items]);
    }
}
