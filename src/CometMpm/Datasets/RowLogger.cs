using System.Globalization;
using CometMpm.Events;

namespace CometMpm.Datasets;

/// <summary>
/// The engine behind row logging: reads one row at a time, turns it into normalized maps (missing cells — null,
/// <see cref="DBNull"/>, NaN — become null, as in the single-event API), and queues it. With the library's own client
/// it uses the prepared-event fast path and waits for queue space; with another <see cref="ICometMpm"/> it calls
/// <see cref="ICometMpm.LogEvent(string, IReadOnlyDictionary{string, object?}?, IReadOnlyDictionary{string, object?}?, IReadOnlyDictionary{string, object?}?, DateTimeOffset?)"/>
/// and, on a full queue, waits for <see cref="ICometMpm.FlushAsync"/> and tries once more.
/// </summary>
/// <remarks>Over 300 lines because it reads three row sources (objects, <see cref="System.Data.IDataReader"/>, dictionaries)
/// into one result, with the row-only rules (prediction id, timestamp in seconds, the deprecated output value and probability);
/// what a cell's value becomes is <see cref="ValueNormalizer"/>'s alone.</remarks>
internal static class RowLogger
{
    public static async Task<RowLoggingResult> RunAsync<T>(ICometMpm mpm, IEnumerable<T> rows, RowMapping<T> mapping, RowLoggingOptions options, CancellationToken cancellationToken)
    {
        var client = mpm as IPreparedEventSink;
        var rejections = new List<RowRejection>();
        long count = 0, logged = 0, rejected = 0, dropped = 0;
        var stalled = false;
        var maxWait = options.MaxQueueWait < TimeSpan.Zero ? TimeSpan.Zero : options.MaxQueueWait;
        foreach (var row in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            count++;
            if (TryBuild(row, mapping, out var row1) is { } problem)
            {
                Reject(problem);
                continue;
            }

            LogResult result;
            if (client is not null)
            {
                // Backpressure: wait for room (at most maxWait without progress; not at all while the backend is stalled).
                var hasRoom = await client.WaitForQueueSpaceAsync(stalled ? TimeSpan.Zero : maxWait, cancellationToken).ConfigureAwait(false);
                stalled = !hasRoom;
                result = client.LogPrepared(row1.Id, row1.Features, row1.Outputs, row1.Labels, row1.Timestamp);
            }
            else
            {
                result = LogThroughInterface(mpm, row1);
                if (result.Status == LogStatus.QueueFull && !stalled && maxWait > TimeSpan.Zero)
                {
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    wait.CancelAfter(maxWait);
                    await mpm.FlushAsync(wait.Token).ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                    result = LogThroughInterface(mpm, row1);
                    stalled = result.Status == LogStatus.QueueFull;
                }
                else if (result.IsAccepted)
                {
                    stalled = false;
                }
            }

            switch (result.Status)
            {
                case LogStatus.Accepted:
                    logged++;
                    break;
                case LogStatus.InvalidInput:
                    Reject(result.Message ?? "invalid");
                    break;
                default:
                    dropped++;
                    break;
            }
        }

        return new RowLoggingResult(count, logged, rejected, dropped, rejections);

        void Reject(string reason)
        {
            rejected++;
            if (rejections.Count < options.MaxReportedRejections)
            {
                rejections.Add(new RowRejection(count, reason));
            }
        }
    }

    private static LogResult LogThroughInterface(ICometMpm mpm, PreparedRow row) =>
        mpm.LogEvent(row.Id, row.Features.ToDictionary(), row.Outputs.ToDictionary(), row.Labels.ToDictionary(), row.Timestamp);

    private static string? TryBuild<T>(T row, RowMapping<T> mapping, out PreparedRow prepared)
    {
        prepared = default;
        object? id;
        try
        {
            id = Missing(mapping.PredictionId(row));
        }
        catch (Exception ex) when (IsCellError(ex))
        {
            return $"predictionId could not be read: {ex.Message}";
        }

        if (id is null || (id is string s && string.IsNullOrWhiteSpace(s)))
        {
            return "predictionId is missing: every row needs a prediction id.";
        }

        var predictionId = id switch
        {
            string text => text,
            IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
            _ => id.ToString() ?? string.Empty,
        };

        FeatureMap features = default;
        if (mapping.FeatureSelectors.Count > 0 && TryMap(row, mapping, mapping.FeatureSelectors, "feature", out features) is { } featureError)
        {
            return featureError;
        }

        FeatureMap outputs = default;
        if (mapping.OutputSelectors.Count > 0 && TryMap(row, mapping, mapping.OutputSelectors, "output", out outputs) is { } outputError)
        {
            return outputError;
        }

        if (mapping.OutputValueSelector is not null || mapping.OutputProbabilitySelector is not null)
        {
            if (MergeDeprecated(row, mapping, ref outputs) is { } deprecatedError)
            {
                return deprecatedError;
            }
        }

        FeatureMap labels = default;
        if (mapping.LabelSelectors.Count > 0 && TryMap(row, mapping, mapping.LabelSelectors, "label", out labels) is { } labelError)
        {
            return labelError;
        }

        DateTimeOffset? timestamp = null;
        if (mapping.TimestampSelector is { } timestampSelector)
        {
            object? cell;
            try
            {
                cell = Missing(timestampSelector(row));
            }
            catch (Exception ex) when (IsCellError(ex))
            {
                return $"timestamp could not be read: {ex.Message}";
            }

            if (cell is not null && TryTimestamp(cell, out timestamp) is { } timestampError)
            {
                return timestampError;
            }
        }

        prepared = new PreparedRow(predictionId, features, outputs, labels, timestamp);
        return null;
    }

    private static string? MergeDeprecated<T>(T row, RowMapping<T> mapping, ref FeatureMap outputs)
    {
        object? value = null;
        double? probability = null;
        try
        {
            if (mapping.OutputValueSelector is { } valueSelector && valueSelector(row) is var cell)
            {
                if (!TryCell(cell, out var normalized))
                {
                    return ValueNormalizer.NotScalar("output value", "value", cell!);
                }

                value = normalized.ToObject();
            }

            if (mapping.OutputProbabilitySelector is { } probabilitySelector && Missing(probabilitySelector(row)) is { } p)
            {
                if (!TryDouble(p, out var number))
                {
                    return $"output probability is '{p}', not a number within 0..1.";
                }

                probability = double.IsNaN(number) ? null : number;
            }
        }
        catch (Exception ex) when (IsCellError(ex))
        {
            return $"output value or probability could not be read: {ex.Message}";
        }

        var current = outputs.ToDictionary();
        if (EventFactory.TryMergeDeprecatedOutputs(value, probability, current, out var merged) is { } error)
        {
            return error;
        }

        outputs = merged is null || merged.Count == 0 ? outputs : new FeatureMap([.. merged.Select(Normalized)]);
        return null;
    }

    private static string? TryMap<T>(T row, RowMapping<T> mapping, IReadOnlyList<KeyValuePair<string, Func<T, object?>>> selectors, string kind, out FeatureMap map)
    {
        map = default;
        var values = new FeatureValue[selectors.Count];
        for (var i = 0; i < values.Length; i++)
        {
            var (name, selector) = selectors[i];
            object? raw;
            try
            {
                raw = selector(row);
            }
            catch (Exception ex) when (IsCellError(ex))
            {
                return $"{kind} '{name}' could not be read: {ex.Message}";
            }

            if (!TryCell(raw, out var normalized))
            {
                return ValueNormalizer.NotScalar($"{kind} '{name}'", name, raw!);
            }

            values[i] = normalized;
        }

        map = new FeatureMap(mapping.SchemaOf(selectors), values);
        return null;
    }

    /// <summary>Null for a missing cell (null, <see cref="DBNull"/>, NaN), otherwise the cell.</summary>
    private static object? Missing(object? cell) => cell switch
    {
        DBNull => null,
        double d when double.IsNaN(d) => null,
        float f when float.IsNaN(f) => null,
        _ => cell,
    };

    /// <summary>Normalizes a cell by the one type table (<see cref="ValueNormalizer"/>); <see cref="DBNull"/> is a missing value.</summary>
    private static bool TryCell(object? cell, out FeatureValue value)
    {
        if (cell is DBNull)
        {
            value = default;
            return true;
        }

        return ValueNormalizer.TryNormalize(cell, out value);
    }

    /// <summary>An entry of a map already normalized (the deprecated output merge, whose values came from one).</summary>
    private static KeyValuePair<string, FeatureValue> Normalized(KeyValuePair<string, object?> entry) =>
        new(entry.Key, ValueNormalizer.TryNormalize(entry.Value, out FeatureValue value) ? value : default);

    private static string? TryTimestamp(object cell, out DateTimeOffset? timestamp)
    {
        timestamp = null;
        switch (cell)
        {
            case DateTimeOffset offset:
                timestamp = offset;
                return null;
            case DateTime dateTime:
                timestamp = new DateTimeOffset(dateTime.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(dateTime, DateTimeKind.Utc) : dateTime.ToUniversalTime());
                return null;
        }

        if (!TryDouble(cell, out var seconds) || double.IsInfinity(seconds))
        {
            return $"timestamp is '{cell}', not a number of seconds since the Unix epoch.";
        }

        // As the Python SDK: int(seconds * 1000), truncating (protocol §4.1).
        var milliseconds = seconds * 1000.0;
        if (milliseconds < -62_135_596_800_000d || milliseconds > 253_402_300_799_999d)
        {
            return $"timestamp {seconds.ToString(CultureInfo.InvariantCulture)} is out of range: it must be seconds since the Unix epoch.";
        }

        timestamp = DateTimeOffset.FromUnixTimeMilliseconds((long)milliseconds);
        return null;
    }

    private static bool TryDouble(object cell, out double number)
    {
        switch (cell)
        {
            case double d:
                number = d;
                return true;
            case float f:
                number = f;
                return true;
            case decimal or long or int or short or byte or sbyte or ulong or uint or ushort:
                number = Convert.ToDouble(cell, CultureInfo.InvariantCulture);
                return true;
            case string s:
                return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out number);
            default:
                number = 0;
                return false;
        }
    }

    private static bool IsCellError(Exception ex) => ex is InvalidCastException or FormatException or IndexOutOfRangeException or ArgumentException or NullReferenceException or OverflowException or InvalidOperationException;

    private readonly record struct PreparedRow(string Id, FeatureMap Features, FeatureMap Outputs, FeatureMap Labels, DateTimeOffset? Timestamp);
}
