using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CometMpm.Csv;
using CometMpm.Emulator.Ingestion;
using CometMpm.Emulator.Persistence;
using CometMpm.Emulator.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace CometMpm.Emulator.Datasets;

/// <summary>The three CSV upload kinds of the MPM protocol.</summary>
internal enum CsvDatasetType
{
    /// <summary><c>EVENTS</c>: rows are predictions.</summary>
    Events,

    /// <summary><c>LATE_LABELS</c>: rows are labels joined to predictions by id.</summary>
    LateLabels,

    /// <summary><c>TRAINING_EVENTS</c>: rows are reference data of a named dataset.</summary>
    TrainingEvents,
}

/// <summary>
/// Handles the multipart CSV uploads. The file part is streamed through <see cref="MultipartReader"/>
/// and parsed record by record; rows are stored in chunks and progress is streamed back as text.
/// </summary>
internal sealed class CsvUploadHandler(EmulatorStore store, MpmEmulatorOptions options, TimeProvider time)
{
    private const int ChunkSize = 5000;
    private const int MaxFieldLength = 64 * 1024;
    private const int MaxReportedErrors = 10;
    private static readonly string[] DefaultNaValues = ["None", "", "null", "NULL", "N/A", "NA", "NaN", "n/a", "nan"];

    public async Task HandleAsync(HttpContext context, CsvDatasetType type)
    {
        var cancellationToken = context.RequestAborted;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = null;
        }

        if (!MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary).Length == 0)
        {
            await BadRequestAsync(context, $"Content-Type must be multipart/form-data with a boundary, got '{context.Request.ContentType}'").ConfigureAwait(false);
            return;
        }

        var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).ToString();
        var reader = new MultipartReader(boundary, context.Request.Body) { BodyLengthLimit = null };
        var formFields = new Dictionary<string, string>(StringComparer.Ordinal);
        var fileSeen = false;
        try
        {
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(cancellationToken).ConfigureAwait(false)) is not null)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                {
                    await BadRequestAsync(context, "every multipart part needs a Content-Disposition: form-data header").ConfigureAwait(false);
                    return;
                }

                var name = HeaderUtilities.RemoveQuotes(disposition.Name).ToString();
                if (fileSeen)
                {
                    await section.Body.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (name == "file" || disposition.IsFileDisposition())
                {
                    var settings = ReadSettings(formFields, type, out var problem);
                    if (settings is null)
                    {
                        await BadRequestAsync(context, problem!).ConfigureAwait(false);
                        return;
                    }

                    fileSeen = true;
                    await StreamFileAsync(context, section.Body, settings, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var value = await ReadSmallAsync(section.Body, cancellationToken).ConfigureAwait(false);
                    if (value is null)
                    {
                        await BadRequestAsync(context, $"form field '{name}' is longer than {MaxFieldLength} bytes").ConfigureAwait(false);
                        return;
                    }

                    formFields[name] = value;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            return;
        }

        if (!fileSeen)
        {
            await BadRequestAsync(context, "missing the 'file' part (the CSV, sent after the other fields)").ConfigureAwait(false);
        }
    }

    private static Task BadRequestAsync(HttpContext context, string message) =>
        BatchHandler.WriteAsync(context, 400, new ApiResponse(400, message));

    private static async Task<string?> ReadSmallAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxFieldLength + 1];
        var total = 0;
        int n;
        while ((n = await body.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
        {
            total += n;
            if (total > MaxFieldLength)
            {
                return null;
            }
        }

        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    private static UploadSettings? ReadSettings(Dictionary<string, string> fields, CsvDatasetType type, out string? problem)
    {
        problem = null;
        foreach (var required in new[] { "workspaceName", "modelName", "modelVersion" })
        {
            if (!fields.TryGetValue(required, out var value) || string.IsNullOrWhiteSpace(value))
            {
                problem = $"missing form field '{required}' (the text fields must come before the 'file' part)";
                return null;
            }
        }

        fields.TryGetValue("datasetName", out var datasetName);
        if (type == CsvDatasetType.TrainingEvents && string.IsNullOrWhiteSpace(datasetName))
        {
            problem = "missing form field 'datasetName': TRAINING_EVENTS uploads need the dataset's name";
            return null;
        }

        var keepDefault = true;
        if (fields.TryGetValue("keepDefaultNAValues", out var keepText) && !bool.TryParse(keepText.Trim(), out keepDefault))
        {
            problem = $"keepDefaultNAValues must be True or False, got '{keepText}'";
            return null;
        }

        var na = new HashSet<string>(StringComparer.Ordinal);
        if (keepDefault)
        {
            na.UnionWith(DefaultNaValues);
        }

        if (fields.TryGetValue("NAValues", out var extra))
        {
            foreach (var token in extra.Split(','))
            {
                na.Add(token.Trim());
            }
        }

        return new UploadSettings(fields["workspaceName"], fields["modelName"], fields["modelVersion"], datasetName, type, na);
    }

    private async Task StreamFileAsync(HttpContext context, Stream file, UploadSettings settings, CancellationToken cancellationToken)
    {
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/plain; charset=utf-8";
        var started = Stopwatch.GetTimestamp();
        using var text = new StreamReader(file, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 64 * 1024, leaveOpen: true);
        var csv = new CsvRecordReader(text);
        var record = new List<string>();
        var counts = new UploadCounts();
        List<IncomingEvent>? batch = null;
        var target = StoreTarget.Predictions;

        try
        {
            if (!await csv.ReadAsync(record, cancellationToken).ConfigureAwait(false))
            {
                await WriteLineAsync(response, "error: the file is empty; the first line must be the header", cancellationToken).ConfigureAwait(false);
                return;
            }

            var columns = CsvColumns.Parse(record);
            if (columns.Ignored.Count > 0)
            {
                await WriteLineAsync(response, "ignored columns (no timestamp/predictionId/feature_/prediction_/label_value_ prefix): "
                    + string.Join(", ", columns.Ignored), cancellationToken).ConfigureAwait(false);
            }

            if (settings.Type == CsvDatasetType.LateLabels && columns.IdIndex < 0)
            {
                await WriteLineAsync(response, "error: LATE_LABELS needs a predictionId column to join the labels to predictions", cancellationToken).ConfigureAwait(false);
                return;
            }

            var builder = new RowBuilder(settings, columns, time);
            batch = new List<IncomingEvent>(ChunkSize);
            target = settings.Type switch
            {
                CsvDatasetType.Events => StoreTarget.Predictions,
                CsvDatasetType.LateLabels => StoreTarget.Labels,
                _ => StoreTarget.Dataset,
            };
            var progressEvery = Math.Max(1, options.CsvProgressEvery);

            while (await csv.ReadAsync(record, cancellationToken).ConfigureAwait(false))
            {
                if (record.Count == 1 && record[0].Length == 0)
                {
                    continue;
                }

                counts.Rows++;
                var row = builder.Build(record, out var problem);
                if (row is null)
                {
                    counts.Invalid++;
                    if (counts.Invalid <= MaxReportedErrors)
                    {
                        await WriteLineAsync(response, string.Create(CultureInfo.InvariantCulture, $"row {counts.Rows}: {problem}"), cancellationToken).ConfigureAwait(false);
                    }
                }
                else
                {
                    batch.Add(row);
                    if (batch.Count >= ChunkSize)
                    {
                        await FlushAsync(target, settings, batch, counts, cancellationToken).ConfigureAwait(false);
                    }
                }

                if (counts.Rows % progressEvery == 0)
                {
                    await WriteLineAsync(response, string.Create(CultureInfo.InvariantCulture, $"processed {counts.Rows} rows"), cancellationToken).ConfigureAwait(false);
                }
            }

        }
        catch (CsvFormatException ex)
        {
            // The unclosed record is a row that cannot be stored; the rows before it still are (below).
            counts.Rows++;
            counts.Invalid++;
            await WriteLineAsync(response, "error: " + ex.Message, cancellationToken).ConfigureAwait(false);
        }

        if (batch is not null)
        {
            await FlushAsync(target, settings, batch, counts, cancellationToken).ConfigureAwait(false);
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var stored = settings.Type == CsvDatasetType.LateLabels ? "labels stored" : "stored";
        await WriteLineAsync(response, string.Create(CultureInfo.InvariantCulture,
            $"done: {counts.Rows} rows, {counts.Stored} {stored}, {counts.Duplicates} duplicates ignored, {counts.Invalid} invalid, in {seconds:F2} s"),
            cancellationToken).ConfigureAwait(false);
    }

    private async Task FlushAsync(StoreTarget target, UploadSettings settings, List<IncomingEvent> batch, UploadCounts counts, CancellationToken cancellationToken)
    {
        var result = await store.WriteAsync(target, settings.DatasetName, batch, cancellationToken).ConfigureAwait(false);
        counts.Stored += result.Stored;
        counts.Duplicates += result.Duplicates;
        batch.Clear();
    }

    private static async Task WriteLineAsync(HttpResponse response, string line, CancellationToken cancellationToken)
    {
        await response.WriteAsync(line + "\n", cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed record UploadSettings(
        string Workspace, string Model, string Version, string? DatasetName, CsvDatasetType Type, HashSet<string> NaValues);

    private sealed class UploadCounts
    {
        public long Rows { get; set; }

        public long Stored { get; set; }

        public long Duplicates { get; set; }

        public long Invalid { get; set; }
    }

    private enum ColumnKind
    {
        Ignored,
        Timestamp,
        PredictionId,
        Feature,
        Prediction,
        Label,
    }

    private sealed class CsvColumns
    {
        public required ColumnKind[] Kinds { get; init; }

        public required string[] Names { get; init; }

        public required List<string> Ignored { get; init; }

        public int IdIndex { get; init; } = -1;

        public int TimestampIndex { get; init; } = -1;

        public static CsvColumns Parse(List<string> header)
        {
            var kinds = new ColumnKind[header.Count];
            var names = new string[header.Count];
            var ignored = new List<string>();
            int id = -1, timestamp = -1;
            for (var i = 0; i < header.Count; i++)
            {
                var column = header[i].Trim();
                (kinds[i], names[i]) = column switch
                {
                    "timestamp" => (ColumnKind.Timestamp, column),
                    "predictionId" => (ColumnKind.PredictionId, column),
                    _ when column.StartsWith("feature_", StringComparison.Ordinal) => (ColumnKind.Feature, column["feature_".Length..]),
                    _ when column.StartsWith("prediction_", StringComparison.Ordinal) => (ColumnKind.Prediction, column["prediction_".Length..]),
                    _ when column.StartsWith("label_value_", StringComparison.Ordinal) => (ColumnKind.Label, column["label_value_".Length..]),
                    _ => (ColumnKind.Ignored, column),
                };
                if (kinds[i] == ColumnKind.Ignored)
                {
                    ignored.Add(column);
                }
                else if (kinds[i] == ColumnKind.Timestamp)
                {
                    timestamp = i;
                }
                else if (kinds[i] == ColumnKind.PredictionId)
                {
                    id = i;
                }
            }

            return new CsvColumns { Kinds = kinds, Names = names, Ignored = ignored, IdIndex = id, TimestampIndex = timestamp };
        }
    }

    /// <summary>Turns CSV records into events; one set of reusable JSON buffers per upload.</summary>
    private sealed class RowBuilder(UploadSettings settings, CsvColumns columns, TimeProvider time)
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(4096);
        private readonly Utf8JsonWriter _writer = new(Stream.Null);

        public IncomingEvent? Build(List<string> record, out string? problem)
        {
            problem = null;
            if (record.Count != columns.Kinds.Length)
            {
                problem = string.Create(CultureInfo.InvariantCulture, $"has {record.Count} fields, the header has {columns.Kinds.Length}");
                return null;
            }

            long timestamp;
            if (columns.TimestampIndex < 0 || settings.NaValues.Contains(record[columns.TimestampIndex]))
            {
                timestamp = time.GetUtcNow().ToUnixTimeMilliseconds();
            }
            else if (!long.TryParse(record[columns.TimestampIndex], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out timestamp)
                || timestamp < EventValidator.MinTimestampMs || timestamp > EventValidator.MaxTimestampMs)
            {
                problem = $"timestamp must be an integer number of milliseconds since the Unix epoch, got '{record[columns.TimestampIndex]}'";
                return null;
            }

            string predictionId;
            if (columns.IdIndex >= 0 && !settings.NaValues.Contains(record[columns.IdIndex]))
            {
                predictionId = record[columns.IdIndex];
            }
            else if (settings.Type == CsvDatasetType.LateLabels)
            {
                problem = "predictionId is missing: late labels join to predictions by id";
                return null;
            }
            else
            {
                predictionId = Guid.NewGuid().ToString();
            }

            var labels = Section(record, ColumnKind.Label);
            if (settings.Type == CsvDatasetType.LateLabels)
            {
                return new IncomingEvent(settings.Workspace, settings.Model, settings.Version, predictionId, false, timestamp, null, null, labels ?? "{}");
            }

            return new IncomingEvent(settings.Workspace, settings.Model, settings.Version, predictionId, false, timestamp,
                Section(record, ColumnKind.Feature), Section(record, ColumnKind.Prediction), labels);
        }

        private string? Section(List<string> record, ColumnKind kind)
        {
            var any = false;
            _buffer.ResetWrittenCount();
            _writer.Reset(_buffer);
            _writer.WriteStartObject();
            for (var i = 0; i < record.Count; i++)
            {
                if (columns.Kinds[i] != kind)
                {
                    continue;
                }

                any = true;
                WriteValue(columns.Names[i], record[i]);
            }

            _writer.WriteEndObject();
            _writer.Flush();
            return any ? Encoding.UTF8.GetString(_buffer.WrittenSpan) : null;
        }

        private void WriteValue(string name, string cell)
        {
            if (settings.NaValues.Contains(cell))
            {
                _writer.WriteNull(name);
            }
            else if (IsJsonNumber(cell))
            {
                _writer.WritePropertyName(name);
                _writer.WriteRawValue(cell, skipInputValidation: true);
            }
            else if (double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
            {
                _writer.WriteNumber(name, number);
            }
            else if (bool.TryParse(cell, out var flag))
            {
                _writer.WriteBoolean(name, flag);
            }
            else
            {
                _writer.WriteString(name, cell);
            }
        }

        /// <summary>Whether the text is a JSON number literal (so it can be stored verbatim, keeping its precision).</summary>
        internal static bool IsJsonNumber(ReadOnlySpan<char> s)
        {
            var i = 0;
            if (i < s.Length && s[i] == '-')
            {
                i++;
            }

            if (i >= s.Length)
            {
                return false;
            }

            if (s[i] == '0')
            {
                i++;
            }
            else if (char.IsAsciiDigit(s[i]))
            {
                while (i < s.Length && char.IsAsciiDigit(s[i]))
                {
                    i++;
                }
            }
            else
            {
                return false;
            }

            if (i < s.Length && s[i] == '.')
            {
                i++;
                var start = i;
                while (i < s.Length && char.IsAsciiDigit(s[i]))
                {
                    i++;
                }

                if (i == start)
                {
                    return false;
                }
            }

            if (i < s.Length && (s[i] == 'e' || s[i] == 'E'))
            {
                i++;
                if (i < s.Length && (s[i] == '+' || s[i] == '-'))
                {
                    i++;
                }

                var start = i;
                while (i < s.Length && char.IsAsciiDigit(s[i]))
                {
                    i++;
                }

                if (i == start)
                {
                    return false;
                }
            }

            return i == s.Length;
        }
    }
}
