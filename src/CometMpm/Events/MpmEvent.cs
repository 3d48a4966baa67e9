using System.Text.Json;

namespace CometMpm.Events;

/// <summary>Whether an event is a prediction (sent to <c>events/batch</c>) or a late label (sent to <c>labels/batch</c>).</summary>
internal enum MpmEventKind : byte
{
    Prediction = 0,
    Label = 1,
}

/// <summary>The workspace, model and version every event of a client carries, JSON-encoded once.</summary>
internal sealed record ModelIdentity(string WorkspaceName, string ModelName, string ModelVersion)
{
    public JsonEncodedText EncodedWorkspaceName { get; } = JsonEncodedText.Encode(WorkspaceName);

    public JsonEncodedText EncodedModelName { get; } = JsonEncodedText.Encode(ModelName);

    public JsonEncodedText EncodedModelVersion { get; } = JsonEncodedText.Encode(ModelVersion);
}

/// <summary>
/// A validated, immutable event, built on the caller's thread by <see cref="EventFactory"/> only. Written as the wire
/// JSON of protocol §4 by <see cref="Serialization.EventWriter"/>; a map that is not present is left out (the inclusion
/// rules are applied when it is built). The maps are schema + unboxed values: an event of 10 features is this object
/// and one array of 10 values.
/// </summary>
internal sealed class MpmEvent
{
    private const int FixedBytes = 96;

    public MpmEvent(MpmEventKind kind, ModelIdentity model, string predictionId, long timestampMs, FeatureMap features, FeatureMap prediction, FeatureMap labels)
    {
        Kind = kind;
        Model = model;
        PredictionId = predictionId;
        Timestamp = timestampMs;
        Features = features;
        Prediction = prediction;
        Labels = labels;
        ApproximateBytes = FixedBytes + predictionId.Length + features.ApproximateBytes + prediction.ApproximateBytes + labels.ApproximateBytes;
    }

    public MpmEventKind Kind { get; }

    public ModelIdentity Model { get; }

    /// <summary>About how many bytes the event takes in memory; the queue is bounded by it.</summary>
    public int ApproximateBytes { get; }

    public string PredictionId { get; }

    /// <summary>Milliseconds since the Unix epoch, UTC, fixed when the event was logged.</summary>
    public long Timestamp { get; }

    /// <summary>The input features (<c>features</c> on the wire).</summary>
    public FeatureMap Features { get; }

    /// <summary>The output features (<c>prediction</c> on the wire).</summary>
    public FeatureMap Prediction { get; }

    public FeatureMap Labels { get; }
}
