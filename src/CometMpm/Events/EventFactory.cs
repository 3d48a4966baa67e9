namespace CometMpm.Events;

/// <summary>
/// Validates and normalizes logging input on the caller's thread and builds the immutable
/// <see cref="MpmEvent"/>. Inputs are copied, never changed; every value goes through <see cref="ValueNormalizer"/>.
/// The inclusion rules of protocol §4.4 and the deprecated-argument mapping of §4.5 live here and nowhere else.
/// </summary>
internal static class EventFactory
{
    internal const string InputFeaturesField = "inputFeatures";
    internal const string OutputFeaturesField = "outputFeatures";
    internal const string LabelsField = "labels";

    /// <summary>Builds a prediction event; returns an error message naming the field instead when the input is invalid.</summary>
    public static string? TryCreatePrediction(
        ModelIdentity model,
        string? predictionId,
        IReadOnlyDictionary<string, object?>? inputFeatures,
        IReadOnlyDictionary<string, object?>? outputFeatures,
        IReadOnlyDictionary<string, object?>? labels,
        long timestampMs,
        out MpmEvent? mpmEvent)
    {
        mpmEvent = null;
        if (ValidatePredictionId(predictionId) is { } idError)
        {
            return idError;
        }

        var bytes = 0;
        KeyValuePair<string, object?>[]? features = null;
        if (inputFeatures is not null && TryCopy(inputFeatures, InputFeaturesField, out features, ref bytes) is { } inputError)
        {
            return inputError;
        }

        KeyValuePair<string, object?>[]? prediction = null;
        if (outputFeatures is { Count: > 0 } && TryCopy(outputFeatures, OutputFeaturesField, out prediction, ref bytes) is { } outputError)
        {
            return outputError;
        }

        KeyValuePair<string, object?>[]? labelMap = null;
        if (labels is { Count: > 0 } && TryCopy(labels, LabelsField, out labelMap, ref bytes) is { } labelError)
        {
            return labelError;
        }

        mpmEvent = new MpmEvent(MpmEventKind.Prediction, model, predictionId!, timestampMs, features, prediction, labelMap, bytes);
        return null;
    }

    /// <summary>
    /// Builds a prediction event from maps the library's own producers (capture, rows, the command-line tool) built
    /// with <see cref="ValueNormalizer"/> already: nothing is copied again; empty outputs and labels are left out.
    /// </summary>
    public static string? TryCreatePrepared(
        ModelIdentity model,
        string? predictionId,
        FeatureMap? inputFeatures,
        FeatureMap? outputFeatures,
        FeatureMap? labels,
        long timestampMs,
        out MpmEvent? mpmEvent)
    {
        mpmEvent = null;
        if (ValidatePredictionId(predictionId) is { } idError)
        {
            return idError;
        }

        var prediction = outputFeatures is { Count: > 0 } ? outputFeatures : null;
        var labelMap = labels is { Count: > 0 } ? labels : null;
        mpmEvent = new MpmEvent(MpmEventKind.Prediction, model, predictionId!, timestampMs, inputFeatures, prediction, labelMap);
        return null;
    }

    /// <summary>
    /// Merges the deprecated output value and probability with the output features (protocol §4.5):
    /// the map starts with <c>value</c> and <c>probability</c> (those given), then each output feature is
    /// assigned in order, so an output feature named like them wins the value but keeps the first position.
    /// Unlike the Python SDK, a single deprecated argument next to output features is merged the same way,
    /// never dropped silently.
    /// </summary>
    public static string? TryMergeDeprecatedOutputs(
        object? outputValue,
        double? outputProbability,
        IReadOnlyDictionary<string, object?>? outputFeatures,
        out IReadOnlyDictionary<string, object?>? merged)
    {
        merged = outputFeatures;
        if (outputProbability is { } p && (double.IsNaN(p) || p < 0 || p > 1))
        {
            return $"outputProbability is {p} but must be a number between 0 and 1 (the model's confidence in outputValue).";
        }

        if (outputValue is null && outputProbability is null)
        {
            return null;
        }

        var result = NewOrderedMap();
        if (outputValue is not null)
        {
            result["value"] = outputValue;
        }

        if (outputProbability is { } probability)
        {
            result["probability"] = probability;
        }

        if (outputFeatures is not null)
        {
            foreach (var (name, value) in outputFeatures)
            {
                result[name] = value;
            }
        }

        merged = result;
        return null;
    }

    /// <summary>Builds a label event: <c>labels</c> is always sent, empty when none are given (protocol §4.3).</summary>
    public static string? TryCreateLabel(
        ModelIdentity model,
        string? predictionId,
        IReadOnlyDictionary<string, object?>? labels,
        long timestampMs,
        out MpmEvent? mpmEvent)
    {
        mpmEvent = null;
        if (ValidatePredictionId(predictionId) is { } idError)
        {
            return idError;
        }

        var bytes = FeatureMap.Empty.ApproximateBytes;
        var labelMap = FeatureMap.Empty.Items;
        if (labels is { Count: > 0 })
        {
            bytes = 0;
            if (TryCopy(labels, LabelsField, out labelMap, ref bytes) is { } labelError)
            {
                return labelError;
            }
        }

        mpmEvent = new MpmEvent(MpmEventKind.Label, model, predictionId!, timestampMs, null, null, labelMap, bytes);
        return null;
    }

    /// <summary>The deprecated single label becomes <c>value</c>, assigned after the other labels as the Python SDK does, on a copy.</summary>
    public static IReadOnlyDictionary<string, object?> MergeDeprecatedLabel(object? label, IReadOnlyDictionary<string, object?>? labels)
    {
        var result = NewOrderedMap();
        if (labels is not null)
        {
            foreach (var (name, value) in labels)
            {
                result[name] = value;
            }
        }

        result["value"] = label;
        return result;
    }

    private static string? ValidatePredictionId(string? predictionId) =>
        string.IsNullOrWhiteSpace(predictionId)
            ? "predictionId is empty: pass a unique id per prediction (for example Guid.CreateVersion7().ToString())."
            : null;

    /// <summary>
    /// Copies and normalizes a map into a new item array, adding its <see cref="FeatureMap.Estimate"/> to
    /// <paramref name="bytes"/> in the same pass; returns an error message naming the field when a name or value is invalid.
    /// </summary>
    internal static string? TryCopy(IReadOnlyDictionary<string, object?> source, string field, out KeyValuePair<string, object?>[]? map, ref int bytes)
    {
        map = null;
        var items = new KeyValuePair<string, object?>[source.Count];
        var index = 0;
        var estimate = FeatureMap.EmptyBytes;
        if (source is Dictionary<string, object?> dictionary)
        {
            // The struct enumerator avoids an allocation on the request path.
            foreach (var pair in dictionary)
            {
                if (Normalize(pair, field, ref items, ref index, ref estimate) is { } error)
                {
                    return error;
                }
            }
        }
        else
        {
            foreach (var pair in source)
            {
                if (Normalize(pair, field, ref items, ref index, ref estimate) is { } error)
                {
                    return error;
                }
            }
        }

        if (index != items.Length)
        {
            Array.Resize(ref items, index);
        }

        map = items;
        bytes += estimate;
        return null;
    }

    private static string? Normalize(KeyValuePair<string, object?> pair, string field, ref KeyValuePair<string, object?>[] items, ref int index, ref int estimate)
    {
        if (string.IsNullOrWhiteSpace(pair.Key))
        {
            return $"{field} has an empty name: every entry needs a non-empty name.";
        }

        if (!ValueNormalizer.TryNormalize(pair.Value, out var normalized))
        {
            return ValueNormalizer.NotScalar($"{field}[\"{pair.Key}\"]", pair.Key, pair.Value!);
        }

        if (index == items.Length)
        {
            // The source grew while being read (a concurrent writer): keep what was read.
            Array.Resize(ref items, items.Length * 2 + 1);
        }

        items[index++] = new KeyValuePair<string, object?>(pair.Key, normalized);
        estimate += FeatureMap.EntryBytes(pair.Key, normalized);
        return null;
    }

    // A Dictionary without removals enumerates in insertion order, and assigning an existing name keeps
    // its position: the Python dict semantics the deprecated mappings rely on.
    private static Dictionary<string, object?> NewOrderedMap() => new(StringComparer.Ordinal);
}
