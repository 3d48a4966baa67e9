using System.Globalization;
using System.Text;
using System.Text.Json;
using CometMpm.Csv;
using CometMpm.Datasets;
using CometMpm.Events;

namespace CometMpm.Cli;

/// <summary>One record of a file given to <c>comet-mpm log</c>, or why it cannot be logged.</summary>
internal sealed record FileRecord(
    long Line,
    string? PredictionId,
    Dictionary<string, object?>? Features,
    Dictionary<string, object?>? Prediction,
    Dictionary<string, object?>? Labels,
    DateTimeOffset? Timestamp,
    string? Error = null);

/// <summary>
/// Reads the files of <c>comet-mpm log</c> lazily, one record at a time: a CSV with the dataset upload's header
/// (<c>timestamp</c> in ms, <c>predictionId</c>, <c>feature_*</c>, <c>prediction_*</c>, <c>label_value_*</c>), or JSON lines
/// shaped like the wire events (<c>predictionId</c>, <c>timestamp</c> in ms, <c>features</c>, <c>prediction</c>, <c>labels</c>).
/// </summary>
internal static class FileRecords
{
    private static readonly HashSet<string> NaValues = new(StringComparer.Ordinal) { "None", "", "null", "NULL", "N/A", "NA", "NaN", "n/a", "nan" };

    public static IEnumerable<FileRecord> FromCsv(string path, bool labels)
    {
        var header = CsvHeader.ReadAndValidate(path, labels ? DatasetType.LateLabels : DatasetType.Events);
        var columns = header.Columns.Select(c => c.Trim()).ToArray();
        return ReadCsv(path, columns, labels);
    }

    private static IEnumerable<FileRecord> ReadCsv(string path, string[] columns, bool labels)
    {
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);

        // The reader the library and the emulator share: the same records, and the same error for an unclosed quote.
        var csv = new CsvRecordReader(reader);
        var fields = new List<string>();
        _ = csv.Read(fields); // the header, checked already
        while (true)
        {
            CsvFormatException? unreadable = null;
            bool more;
            try
            {
                more = csv.Read(fields);
            }
            catch (CsvFormatException ex)
            {
                unreadable = ex;
                more = false;
            }

            if (unreadable is not null)
            {
                yield return new FileRecord(unreadable.Line, null, null, null, null, null, CsvFormatException.UnclosedQuote);
            }

            if (!more)
            {
                yield break;
            }

            var start = csv.RecordLine;
            if (fields.Count == 1 && fields[0].Length == 0)
            {
                continue;
            }

            if (fields.Count != columns.Length)
            {
                yield return new FileRecord(start, null, null, null, null, null, $"has {fields.Count} fields, the header has {columns.Length}.");
                continue;
            }

            string? id = null;
            DateTimeOffset? timestamp = null;
            string? error = null;
            Dictionary<string, object?>? features = null, prediction = null, labelMap = null;
            for (var i = 0; i < columns.Length; i++)
            {
                var column = columns[i];
                var cell = fields[i];
                if (column == CsvHeader.PredictionIdColumn)
                {
                    id = NaValues.Contains(cell) ? null : cell;
                }
                else if (column == CsvHeader.TimestampColumn)
                {
                    if (NaValues.Contains(cell))
                    {
                        continue;
                    }

                    if (long.TryParse(cell, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) && ms is >= -62_135_596_800_000 and <= 253_402_300_799_999)
                    {
                        timestamp = DateTimeOffset.FromUnixTimeMilliseconds(ms);
                    }
                    else
                    {
                        error = $"timestamp '{cell}' is not a whole number of milliseconds since the Unix epoch.";
                    }
                }
                else if (column.StartsWith(CsvHeader.FeaturePrefix, StringComparison.Ordinal))
                {
                    (features ??= [])[column[CsvHeader.FeaturePrefix.Length..]] = Value(cell);
                }
                else if (column.StartsWith(CsvHeader.PredictionPrefix, StringComparison.Ordinal))
                {
                    (prediction ??= [])[column[CsvHeader.PredictionPrefix.Length..]] = Value(cell);
                }
                else if (column.StartsWith(CsvHeader.LabelPrefix, StringComparison.Ordinal))
                {
                    (labelMap ??= [])[column[CsvHeader.LabelPrefix.Length..]] = Value(cell);
                }
            }

            // A missing predictionId is the caller's to decide: generated for a prediction, refused for a label.
            yield return new FileRecord(start, id, labels ? null : features, labels ? null : prediction, labelMap, timestamp, error);
        }
    }

    public static IEnumerable<FileRecord> FromJsonLines(string path)
    {
        long line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            yield return ParseJson(line, text);
        }
    }

    private static FileRecord ParseJson(long line, string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new FileRecord(line, null, null, null, null, null, "is not a JSON object.");
            }

            string? id = root.TryGetProperty("predictionId", out var idElement)
                ? idElement.ValueKind switch
                {
                    JsonValueKind.String => idElement.GetString(),
                    JsonValueKind.Number => idElement.GetRawText(),
                    _ => null,
                }
                : null;
            DateTimeOffset? timestamp = null;
            if (root.TryGetProperty("timestamp", out var ts) && ts.ValueKind != JsonValueKind.Null)
            {
                if (ts.ValueKind != JsonValueKind.Number || !ts.TryGetInt64(out var ms) || ms is < -62_135_596_800_000 or > 253_402_300_799_999)
                {
                    return new FileRecord(line, id, null, null, null, null, $"timestamp {ts.GetRawText()} is not a whole number of milliseconds since the Unix epoch (e.g. 1713006600001).");
                }

                timestamp = DateTimeOffset.FromUnixTimeMilliseconds(ms);
            }

            return new FileRecord(
                line,
                id,
                Map(root, "features"),
                Map(root, "prediction"),
                Map(root, "labels"),
                timestamp,
                null);
        }
        catch (JsonException ex)
        {
            return new FileRecord(line, null, null, null, null, null, "is not valid JSON: " + ex.Message);
        }
    }

    private static Dictionary<string, object?>? Map(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var element) || element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            // The client's type table copies a scalar out of the line's document (a number keeps its JSON text); an object
            // or array is copied as it is, for LogEvent to refuse naming the field.
            map[property.Name] = ValueNormalizer.TryNormalizeToObject(property.Value, out var value) ? value : property.Value.Clone();
        }

        return map;
    }

    /// <summary>A CSV cell as a typed value: NA tokens are null, then booleans, integers, numbers, else the text.</summary>
    internal static object? Value(string cell)
    {
        if (NaValues.Contains(cell))
        {
            return null;
        }

        if (bool.TryParse(cell, out var b))
        {
            return b;
        }

        if (long.TryParse(cell, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return l;
        }

        if (double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return d;
        }

        return cell;
    }
}
