namespace CometMpm.Emulator.Persistence;

/// <summary>A validated event ready to store; the object members are compact JSON text.</summary>
internal sealed record IncomingEvent(
    string Workspace,
    string Model,
    string Version,
    string PredictionId,
    bool PredictionIdIsNumber,
    long Timestamp,
    string? Features,
    string? Prediction,
    string? Labels);

/// <summary>Where a batch of events goes.</summary>
internal enum StoreTarget
{
    /// <summary>Prediction events (first id wins).</summary>
    Predictions,

    /// <summary>Label events, joined to predictions by id.</summary>
    Labels,

    /// <summary>Reference rows of a named dataset.</summary>
    Dataset,
}

/// <summary>What a write did.</summary>
internal readonly record struct WriteResult(int Stored, int Duplicates);

/// <summary>A stored prediction row as read back.</summary>
internal sealed record StoredRow(
    long Sequence,
    string Workspace,
    string Model,
    string Version,
    string PredictionId,
    bool PredictionIdIsNumber,
    long Timestamp,
    string? Features,
    string? Prediction,
    string? Labels);
