using System.CommandLine;

namespace CometMpm.Cli;

/// <summary>
/// <c>comet-mpm log</c>: queues each record of a CSV or JSON-lines file, reports each bad line with its number, then
/// waits for delivery and says how many were delivered; the exit code tells all delivered (0), some lines invalid but
/// every queued one delivered (3), or not everything delivered (1).
/// </summary>
internal static class LogCommand
{
    public static async Task<int> RunAsync(ParseResult parsed, CliOptions options, CancellationToken cancellationToken)
    {
        var file = CliCommands.RequireFile(parsed.GetRequiredValue(options.File));
        var format = parsed.GetValue(options.Format) ?? (HasExtension(file, ".jsonl", ".ndjson", ".json") ? "jsonl" : "csv");
        var labels = parsed.GetValue(options.Labels);
        var records = format == "csv" ? FileRecords.FromCsv(file, labels) : FileRecords.FromJsonLines(file);

        await using var session = CliSession.Create(parsed, options, requireModel: true);
        var mpm = session.Mpm;
        long queued = 0, invalid = 0, refused = 0;
        string? refusal = null;
        foreach (var record in records)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = Log(mpm, record, labels);
            if (result.Status == LogStatus.QueueFull)
            {
                // A batch tool wants backpressure, not drops: wait for the queue to drain and try again.
                await mpm.FlushAsync(cancellationToken).ConfigureAwait(false);
                result = Log(mpm, record, labels);
            }

            switch (result.Status)
            {
                case LogStatus.Accepted:
                    queued++;
                    break;
                case LogStatus.InvalidInput:
                    invalid++;
                    await Console.Error.WriteLineAsync($"line {record.Line}: {result.Message}").ConfigureAwait(false);
                    break;
                default:
                    refused++;
                    refusal ??= $"line {record.Line}: {result.Message}";
                    break;
            }
        }

        var kind = labels ? "labels" : "predictions";
        await Console.Out.WriteLineAsync($"{queued} {kind} queued, {invalid} invalid line(s) not sent.").ConfigureAwait(false);
        var settled = await mpm.FlushAsync(cancellationToken).ConfigureAwait(false);
        var delivered = Delivered(mpm, queued, settled);
        var errors = mpm.GetLoggingErrors();
        if (settled && delivered == queued && refused == 0 && errors.Count == 0)
        {
            await Console.Out.WriteLineAsync($"{delivered} delivered.").ConfigureAwait(false);
            return invalid > 0 ? CliApp.InvalidData : CliApp.Success;
        }

        await Console.Out.WriteLineAsync($"{delivered} of {queued} delivered.").ConfigureAwait(false);
        var reasons = errors.Select(e => e.Message).Prepend(refusal).OfType<string>().Distinct().ToList();
        var notQueued = refused > 0 ? $"{refused} record(s) not queued; " : "";
        throw new CliException(
            $"{notQueued}{queued - delivered} of {queued} not delivered: {(reasons.Count == 0 ? "the client did not finish sending" : string.Join(" | ", reasons))}",
            CliApp.Failure);
    }

    /// <summary>How many of this run's events the backend accepted: the client's own ledger counts them exactly.</summary>
    private static long Delivered(ICometMpm mpm, long queued, bool settled) => mpm is CometMpmClient client
        ? Math.Clamp(client.Ledger.Delivered, 0, queued)
        : settled ? queued : 0;

    private static LogResult Log(ICometMpm mpm, FileRecord record, bool labels)
    {
        if (record.Error is not null)
        {
            return LogResult.Rejected(LogStatus.InvalidInput, record.Error);
        }

        if (labels)
        {
            return record.PredictionId is null
                ? LogResult.Rejected(LogStatus.InvalidInput, "predictionId (a string or number) is missing: a label needs the id of its prediction.")
                : mpm.LogLabel(record.PredictionId, record.Labels, record.Timestamp);
        }

        // As the CSV format documents (and the server does for uploads): a prediction without an id gets a new UUID.
        return mpm.LogEvent(record.PredictionId ?? Guid.CreateVersion7().ToString(), record.Features, record.Prediction, record.Labels, record.Timestamp);
    }

    private static bool HasExtension(string file, params string[] extensions) =>
        extensions.Any(e => file.EndsWith(e, StringComparison.OrdinalIgnoreCase));
}
