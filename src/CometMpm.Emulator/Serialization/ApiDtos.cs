namespace CometMpm.Emulator.Serialization;

/// <summary>The JSON answer of the ingestion endpoints.</summary>
internal sealed record ApiResponse(
    int Code,
    string? Message = null,
    IReadOnlyList<EventError>? Errors = null,
    int? Stored = null,
    int? Rejected = null);

/// <summary>One invalid event of a batch.</summary>
internal sealed record EventError(int Index, string? PredictionId, string Field, string Message);

/// <summary>Per-feature statistics of one model, backing the page.</summary>
internal sealed record ModelStats(
    string Workspace,
    string Model,
    string Version,
    int SampledPredictions,
    IReadOnlyList<FeatureStats> Features);

/// <summary>Statistics of one feature, output or label.</summary>
internal sealed record FeatureStats(
    string Source,
    string Name,
    int Count,
    int Missing,
    string Kind,
    double? Min,
    double? Max,
    IReadOnlyList<HistogramBin>? Histogram,
    IReadOnlyList<CategoryCount>? Top);

/// <summary>A histogram bin [From, To).</summary>
internal sealed record HistogramBin(double From, double To, int Count);

/// <summary>A category and how often it occurs.</summary>
internal sealed record CategoryCount(string Value, int Count);
