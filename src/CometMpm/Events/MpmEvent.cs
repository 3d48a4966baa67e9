using System.Text.Json.Serialization;

namespace CometMpm.Events;

/// <summary>Whether an event is a prediction (sent to <c>events/batch</c>) or a late label (sent to <c>labels/batch</c>).</summary>
internal enum MpmEventKind : byte
{
    Prediction = 0,
    Label = 1,
}

/// <summary>The workspace, model and version every event of a client carries.</summary>
internal sealed record ModelIdentity(string WorkspaceName, string ModelName, string ModelVersion);

/// <summary>
/// A validated, immutable event, built on the caller's thread. Its serialized properties are the wire JSON of
/// protocol §4 in order (source-generated, <c>MpmJsonContext</c>); a null map is left out (the inclusion
/// rules are applied when it is built).
/// The maps are held as their normalized item arrays, without a <see cref="FeatureMap"/> around each:
/// an event of 10 features is then one array and this object (256 bytes), the least a copy can take.
/// </summary>
internal sealed class MpmEvent
{
    private const int FixedBytes = 96;

    public MpmEvent(
        MpmEventKind kind,
        ModelIdentity model,
        string predictionId,
        long timestampMs,
        FeatureMap? features,
        FeatureMap? prediction,
        FeatureMap? labels)
        : this(
            kind,
            model,
            predictionId,
            timestampMs,
            features?.Items,
            prediction?.Items,
            labels?.Items,
            (features?.ApproximateBytes ?? 0) + (prediction?.ApproximateBytes ?? 0) + (labels?.ApproximateBytes ?? 0))
    {
    }

    /// <summary>Builds an event from normalized item arrays whose <see cref="FeatureMap.Estimate"/> sum is <paramref name="mapBytes"/>.</summary>
    public MpmEvent(
        MpmEventKind kind,
        ModelIdentity model,
        string predictionId,
        long timestampMs,
        KeyValuePair<string, object?>[]? features,
        KeyValuePair<string, object?>[]? prediction,
        KeyValuePair<string, object?>[]? labels,
        int mapBytes)
    {
        Kind = kind;
        Model = model;
        PredictionId = predictionId;
        Timestamp = timestampMs;
        Features = features;
        Prediction = prediction;
        Labels = labels;
        ApproximateBytes = FixedBytes + predictionId.Length + mapBytes;
    }

    [JsonIgnore]
    public MpmEventKind Kind { get; }

    [JsonIgnore]
    public ModelIdentity Model { get; }

    /// <summary>About how many bytes the event takes in memory; the queue is bounded by it.</summary>
    [JsonIgnore]
    public int ApproximateBytes { get; }

    [JsonPropertyName("modelName")]
    [JsonPropertyOrder(0)]
    public string ModelName => Model.ModelName;

    [JsonPropertyName("modelVersion")]
    [JsonPropertyOrder(1)]
    public string ModelVersion => Model.ModelVersion;

    [JsonPropertyName("workspaceName")]
    [JsonPropertyOrder(2)]
    public string WorkspaceName => Model.WorkspaceName;

    [JsonPropertyName("predictionId")]
    [JsonPropertyOrder(3)]
    public string PredictionId { get; }

    /// <summary>Milliseconds since the Unix epoch, UTC, fixed when the event was logged.</summary>
    [JsonPropertyName("timestamp")]
    [JsonPropertyOrder(4)]
    public long Timestamp { get; }

    [JsonPropertyName("features")]
    [JsonPropertyOrder(5)]
    public KeyValuePair<string, object?>[]? Features { get; }

    [JsonPropertyName("prediction")]
    [JsonPropertyOrder(6)]
    public KeyValuePair<string, object?>[]? Prediction { get; }

    [JsonPropertyName("labels")]
    [JsonPropertyOrder(7)]
    public KeyValuePair<string, object?>[]? Labels { get; }
}
