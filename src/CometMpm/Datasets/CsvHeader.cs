using System.Text;
using CometMpm.Csv;

namespace CometMpm.Datasets;

/// <summary>
/// The first line of a CSV dataset file, read and checked before anything is sent (protocol §10.4), so a
/// mistake in a 2 GB file fails in milliseconds: only the first line is read.
/// </summary>
internal sealed class CsvHeader
{
    internal const int MaxHeaderBytes = 1024 * 1024;
    internal const string TimestampColumn = "timestamp";
    internal const string PredictionIdColumn = "predictionId";
    internal const string FeaturePrefix = "feature_";
    internal const string PredictionPrefix = "prediction_";
    internal const string LabelPrefix = "label_value_";

    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    private CsvHeader(long length, byte[] line, IReadOnlyList<string> columns)
    {
        Length = length;
        Line = line;
        Columns = columns;
    }

    /// <summary>The bytes the header takes at the start of the file: byte-order mark and line end included.</summary>
    public long Length { get; }

    /// <summary>The header line without a byte-order mark, ending in its line end (<c>\n</c> added when the file has none):
    /// the prefix of every chunk after the first.</summary>
    public byte[] Line { get; }

    /// <summary>The column names, in order.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Reads the first line of <paramref name="path"/> and checks it for <paramref name="datasetType"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is empty or its header is not one MPM accepts; the message names the problem.</exception>
    public static CsvHeader ReadAndValidate(string path, DatasetType datasetType)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The CSV file '{path}' does not exist.", path);
        }

        var buffer = new byte[Math.Min(MaxHeaderBytes, 64 * 1024)];
        var read = 0;
        int newline = -1;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1))
        {
            while (true)
            {
                if (read == buffer.Length)
                {
                    if (buffer.Length >= MaxHeaderBytes)
                    {
                        throw new InvalidDataException($"The first line of '{path}' is longer than {MaxHeaderBytes / 1024} KiB: is it a CSV file with a header line?");
                    }

                    Array.Resize(ref buffer, Math.Min(MaxHeaderBytes, buffer.Length * 4));
                }

                var n = stream.Read(buffer, read, buffer.Length - read);
                if (n == 0)
                {
                    break;
                }

                var found = Array.IndexOf(buffer, (byte)'\n', read, n);
                read += n;
                if (found >= 0)
                {
                    newline = found;
                    break;
                }
            }
        }

        var length = newline >= 0 ? newline + 1 : read;
        var start = buffer.AsSpan(0, length).StartsWith(Utf8Bom) ? Utf8Bom.Length : 0;
        var text = Encoding.UTF8.GetString(buffer, start, length - start).TrimEnd('\r', '\n');
        if (text.Trim().Length == 0)
        {
            throw new InvalidDataException(read == 0
                ? $"The CSV file '{path}' is empty: its first line must be the header (timestamp, predictionId, feature_*, prediction_*, label_value_* columns)."
                : $"The first line of '{path}' is empty: it must be the header (timestamp, predictionId, feature_*, prediction_*, label_value_* columns).");
        }

        List<string> columns;
        try
        {
            columns = CsvRecordReader.SplitLine(text);
        }
        catch (CsvFormatException ex)
        {
            throw new InvalidDataException($"The CSV header of '{path}' cannot be read: {ex.Message}", ex);
        }

        if (Validate(columns, datasetType) is { } problem)
        {
            throw new InvalidDataException($"The CSV header of '{path}' is not valid for {Wire(datasetType)}: {problem}");
        }

        var line = new byte[length - start + (newline >= 0 ? 0 : 1)];
        buffer.AsSpan(start, length - start).CopyTo(line);
        if (newline < 0)
        {
            line[^1] = (byte)'\n';
        }

        return new CsvHeader(length, line, columns);
    }

    /// <summary>The protocol name of a dataset type, as the Python SDK spells it.</summary>
    internal static string Wire(DatasetType type) => type switch
    {
        DatasetType.Events => "EVENTS",
        DatasetType.LateLabels => "LATE_LABELS",
        DatasetType.TrainingEvents => "TRAINING_EVENTS",
        _ => type.ToString(),
    };

    /// <summary>
    /// Checks the columns: each is <c>timestamp</c>, <c>predictionId</c> or starts with <c>feature_</c>,
    /// <c>prediction_</c> or <c>label_value_</c> followed by a name; no column twice. Predictions
    /// (<c>EVENTS</c>, <c>TRAINING_EVENTS</c>) need at least one feature column; late labels need
    /// <c>predictionId</c> (to join them to predictions) and at least one label column.
    /// </summary>
    /// <returns>The problem, naming the columns, or null when the header is valid.</returns>
    internal static string? Validate(IReadOnlyList<string> columns, DatasetType datasetType)
    {
        var unknown = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var duplicates = new List<string>();
        int features = 0, labels = 0;
        var hasId = false;
        foreach (var raw in columns)
        {
            var column = raw.Trim();
            if (!seen.Add(column))
            {
                duplicates.Add(column);
            }

            if (column == TimestampColumn)
            {
                continue;
            }

            if (column == PredictionIdColumn)
            {
                hasId = true;
            }
            else if (HasNamedPrefix(column, FeaturePrefix))
            {
                features++;
            }
            else if (HasNamedPrefix(column, LabelPrefix))
            {
                labels++;
            }
            else if (!HasNamedPrefix(column, PredictionPrefix))
            {
                unknown.Add(column);
            }
        }

        if (unknown.Count > 0)
        {
            return $"unknown column{(unknown.Count == 1 ? "" : "s")} {string.Join(", ", unknown.Select(c => $"'{c}'"))}. "
                + "Columns must be 'timestamp' (milliseconds since the Unix epoch), 'predictionId', or start with 'feature_', 'prediction_' or 'label_value_' followed by a name (for example 'feature_age'); names are case-sensitive.";
        }

        if (duplicates.Count > 0)
        {
            return $"column{(duplicates.Count == 1 ? "" : "s")} {string.Join(", ", duplicates.Distinct().Select(c => $"'{c}'"))} appear{(duplicates.Count == 1 ? "s" : "")} more than once.";
        }

        if (datasetType == DatasetType.LateLabels)
        {
            if (!hasId)
            {
                return "a 'predictionId' column is required: late labels are joined to earlier predictions by their id.";
            }

            return labels == 0 ? "at least one 'label_value_<name>' column is required (for example 'label_value_chargeback')." : null;
        }

        return features == 0 ? "at least one 'feature_<name>' column is required (for example 'feature_age')." : null;
    }

    private static bool HasNamedPrefix(string column, string prefix) =>
        column.Length > prefix.Length && column.StartsWith(prefix, StringComparison.Ordinal);
}
