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
        out MpmEvent? mpmEvent,
        RecentSchemas? recent = null)
    {
        mpmEvent = null;
        if (ValidatePredictionId(predictionId) is { } idError)
        {
            return idError;
        }

        recent ??= new RecentSchemas();
        FeatureMap features = default;
        if (inputFeatures is not null && TryCopy(inputFeatures, InputFeaturesField, ref recent.Inputs, out features) is { } inputError)
        {
            return inputError;
        }

        FeatureMap prediction = default;
        if (outputFeatures is { Count: > 0 } && TryCopy(outputFeatures, OutputFeaturesField, ref recent.Outputs, out prediction) is { } outputError)
        {
            return outputError;
        }

        FeatureMap labelMap = default;
        if (labels is { Count: > 0 } && TryCopy(labels, LabelsField, ref recent.PredictionLabels, out labelMap) is { } labelError)
        {
            return labelError;
        }

        mpmEvent = new MpmEvent(MpmEventKind.Prediction, model, predictionId!, timestampMs, features, prediction, labelMap);
        return null;
    }

    /// <summary>
    /// Builds a prediction event from maps the library's own producers (capture, rows, the command-line tool) built
    /// with <see cref="ValueNormalizer"/> already: nothing is copied again; empty outputs and labels are left out.
    /// </summary>
    public static string? TryCreatePrepared(
        ModelIdentity model,
        string? predictionId,
        FeatureMap inputFeatures,
        FeatureMap outputFeatures,
        FeatureMap labels,
        long timestampMs,
        out MpmEvent? mpmEvent)
    {
        mpmEvent = null;
        if (ValidatePredictionId(predictionId) is { } idError)
        {
            return idError;
        }

        var prediction = outputFeatures is { IsPresent: true, Count: > 0 } ? outputFeatures : default;
        var labelMap = labels is { IsPresent: true, Count: > 0 } ? labels : default;
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
        out MpmEvent? mpmEvent,
        RecentSchemas? recent = null)
    {
        mpmEvent = null;
        if (ValidatePredictionId(predictionId) is { } idError)
        {
            return idError;
        }

        recent ??= new RecentSchemas();
        var labelMap = FeatureMap.Empty;
        if (labels is { Count: > 0 } && TryCopy(labels, LabelsField, ref recent.LateLabels, out labelMap) is { } labelError)
        {
            return labelError;
        }

        mpmEvent = new MpmEvent(MpmEventKind.Label, model, predictionId!, timestampMs, default, default, labelMap);
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
    /// Copies and normalizes a map into a new values array. The names are compared, in order, with the schema of the
    /// previous map of this slot: a caller that logs the same keys every time reuses that schema (its names encoded
    /// once); other key sets get a schema of their own, which becomes the slot's. Returns an error message naming the
    /// field when a name or value is invalid.
    /// </summary>
    internal static string? TryCopy(IReadOnlyDictionary<string, object?> source, string field, ref FeatureSchema? recent, out FeatureMap map)
    {
        map = default;
        var copy = new MapCopy(source.Count, recent);
        if (source is Dictionary<string, object?> dictionary)
        {
            // The struct enumerator avoids an allocation on the request path.
            foreach (var pair in dictionary)
            {
                if (copy.Add(pair, field) is { } error)
                {
                    return error;
                }
            }
        }
        else
        {
            foreach (var pair in source)
            {
                if (copy.Add(pair, field) is { } error)
                {
                    return error;
                }
            }
        }

        map = copy.ToMap(ref recent);
        return null;
    }

    /// <summary>One map being copied: its values, and its names unless they match the recent schema so far.</summary>
    private struct MapCopy(int count, FeatureSchema? recent)
    {
        private FeatureValue[] _values = new FeatureValue[count];
        private string[]? _names = recent is not null && recent.Count == count ? null : new string[count];
        private int _index;

        public string? Add(KeyValuePair<string, object?> pair, string field)
        {
            if (string.IsNullOrWhiteSpace(pair.Key))
            {
                return $"{field} has an empty name: every entry needs a non-empty name.";
            }

            if (!ValueNormalizer.TryNormalize(pair.Value, out FeatureValue normalized))
            {
                return ValueNormalizer.NotScalar($"{field}[\"{pair.Key}\"]", pair.Key, pair.Value!);
            }

            if (_index == _values.Length)
            {
                // The source grew while being read (a concurrent writer): keep what was read.
                OwnNames();
                Array.Resize(ref _values, (_values.Length * 2) + 1);
                Array.Resize(ref _names, _values.Length);
            }

            if (_names is null && !string.Equals(recent!.Names[_index], pair.Key, StringComparison.Ordinal))
            {
                OwnNames(); // a different key set
            }

            if (_names is not null)
            {
                _names[_index] = pair.Key;
            }

            _values[_index++] = normalized;
            return null;
        }

        /// <summary>From here on the names are this map's own: those read so far matched the recent schema's.</summary>
        private void OwnNames()
        {
            if (_names is null)
            {
                _names = new string[_values.Length];
                Array.Copy(recent!.Names, _names, _index);
            }
        }

        public FeatureMap ToMap(ref FeatureSchema? slot)
        {
            if (_names is null && _index == _values.Length)
            {
                return new FeatureMap(recent!, _values);
            }

            var names = _names ?? recent!.Names;
            if (_index != _values.Length || names.Length != _index)
            {
                // The source shrank or grew while being read.
                Array.Resize(ref _values, _index);
                names = names[.._index];
            }

            var schema = new FeatureSchema(names);
            slot = schema;
            return new FeatureMap(schema, _values);
        }
    }

    // A Dictionary without removals enumerates in insertion order, and assigning an existing name keeps
    // its position: the Python dict semantics the deprecated mappings rely on.
    private static Dictionary<string, object?> NewOrderedMap() => new(StringComparer.Ordinal);
}

/// <summary>
/// The schema of the last map of each kind a client built from a dictionary (inputs, outputs, prediction labels, late
/// labels): a caller that logs the same keys every time shares one schema. Racing threads may replace each other's
/// entry; any entry is a correct schema for the maps that matched it.
/// </summary>
internal sealed class RecentSchemas
{
    // Fields, not properties: the factory takes them by reference.
    public FeatureSchema? Inputs;
    public FeatureSchema? Outputs;
    public FeatureSchema? PredictionLabels;
    public FeatureSchema? LateLabels;
}
