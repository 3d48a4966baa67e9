using Microsoft.Extensions.Logging;

namespace CometMpm.AspNetCore.Diagnostics;

/// <summary>Source-generated log messages of the capture.</summary>
internal static partial class CaptureLog
{
    [LoggerMessage(1001, LogLevel.Warning, "Comet MPM capture failed on {Endpoint}; the response is unaffected ({Count} capture errors so far, this warning repeats at most every 10 s).")]
    public static partial void CaptureFailed(ILogger logger, string endpoint, long count, Exception exception);

    [LoggerMessage(1002, LogLevel.Warning, "Comet MPM capture skips {Type}.{Property} (feature '{Feature}'): a {Kind} is not a feature. Mark it [CometMpmFeature] to send the items of a collection of scalars as '{Feature}.0', '{Feature}.1', ..., or [CometMpmIgnore] to silence this warning.")]
    public static partial void CollectionSkipped(ILogger logger, string type, string property, string feature, string kind);

    [LoggerMessage(1003, LogLevel.Warning, "Comet MPM capture skips {Type}.{Property} (feature '{Feature}'): its type {PropertyType} is not a scalar the capture knows. Mark it [CometMpmIgnore] to silence this warning, or add the value through ICometMpmPredictionContext.AddFeature.")]
    public static partial void UnsupportedPropertySkipped(ILogger logger, string type, string property, string feature, string propertyType);

    [LoggerMessage(1004, LogLevel.Warning, "Comet MPM capture cannot read the type {Type}: {Reason} Its features are not captured.")]
    public static partial void TypeUnreadable(ILogger logger, string type, string reason);

    [LoggerMessage(1005, LogLevel.Debug, "Comet MPM captures {Endpoint} into model '{Model}': input {Input}, sample rate {SampleRate}, failed responses {CaptureFailed}.")]
    public static partial void EndpointCaptured(ILogger logger, string endpoint, string model, string input, double sampleRate, bool captureFailed);

    [LoggerMessage(1006, LogLevel.Warning, "Comet MPM ignored the {Kind} '{Name}' added through ICometMpmPredictionContext: a {ValueType} is not a scalar (string, bool, number, enum, Guid, date or time, Uri or null).")]
    public static partial void ExtraNotScalar(ILogger logger, string kind, string name, string valueType);

    [LoggerMessage(1007, LogLevel.Debug, "Comet MPM labels for prediction '{PredictionId}' refused: {Reason}")]
    public static partial void LabelsRefused(ILogger logger, string predictionId, string reason);

    [LoggerMessage(1008, LogLevel.Error, "{Problem} The endpoint is served without capture.")]
    public static partial void CaptureSetupFailed(ILogger logger, string problem, Exception exception);
}
