using System.Text.Json.Serialization;
using CometMpm.Serialization;

namespace CometMpm.Pipeline;

/// <summary>Whether an event is a prediction (sent to <c>events/batch</c>) or a late label (sent to <c>labels/batch</c>).</summary>
internal enum MpmEventKind : byte
{
    Prediction = 0,
    Label = 1,
}

/// <summary>The workspace, model and version every event of a client carries.</summary>
internal sealed record ModelIdentity(string WorkspaceName, string ModelName, string ModelVersion);

/// <summary>
/// A validated, immutable event, built on the caller's thread. Its properties are the wire JSON of
/// protocol §4 in order; a null map is left out (the inclusion rules are applied when it is built).
/// </summary>
internal sealed class MpmEvent(
    MpmEventKind kind,
    ModelIdentity model,
    string predictionId,
    long timestampMs,
    FeatureMap? features,
    FeatureMap? prediction,
    FeatureMap? labels)
{
    [JsonIgnore]
    public MpmEventKind Kind { get; } = kind;

    [JsonIgnore]
    public ModelIdentity Model { get; } = model;

    /// <summary>About how many bytes the event takes in memory; the queue is bounded by it.</summary>
    [JsonIgnore]
    public int ApproximateBytes { get; } = 96 + predictionId.Length
        + (features?.ApproximateBytes ?? 0) + (prediction?.ApproximateBytes ?? 0) + (labels?.ApproximateBytes ?? 0);

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
    public string PredictionId { get; } = predictionId;

    /// <summary>Milliseconds since the Unix epoch, UTC, fixed when the event was logged.</summary>
    [JsonPropertyName("timestamp")]
    [JsonPropertyOrder(4)]
    public long Timestamp { get; } = timestampMs;

    [JsonPropertyName("features")]
    [JsonPropertyOrder(5)]
    public FeatureMap? Features { get; } = features;

    [JsonPropertyName("prediction")]
    [JsonPropertyOrder(6)]
    public FeatureMap? Prediction { get; } = prediction;

    [JsonPropertyName("labels")]
    [JsonPropertyOrder(7)]
    public FeatureMap? Labels { get; } = labels;
}
