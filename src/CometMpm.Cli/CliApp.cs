using System.Globalization;
using Microsoft.Extensions.Options;

namespace CometMpm.Cli;

/// <summary>The <c>comet-mpm</c> commands: <c>upload</c>, <c>ping</c> and <c>log</c>.</summary>
internal static class CliApp
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int UsageError = 2;

    public static readonly HashSet<string> KnownOptions = new(StringComparer.Ordinal)
    {
        "--api-key", "--url", "--workspace", "--model", "--model-version", "--base-path", "--retries",
        "--type", "--dataset-name", "--na-values", "--keep-default-na-values", "--chunk-size-mb", "--format",
    };

    public const string Usage = """
        comet-mpm: Comet Model Production Monitoring from the command line.

        Usage:
          comet-mpm upload <file.csv> --type events|late-labels|training-events [--dataset-name <name>]
                           [--na-values <a,b>] [--keep-default-na-values true|false] [--chunk-size-mb <n>] [--no-progress]
          comet-mpm ping
          comet-mpm log <file.csv|file.jsonl> [--labels] [--format csv|jsonl]

        upload  Uploads a CSV dataset (header: timestamp in ms, predictionId, feature_*, prediction_*, label_value_*).
        ping    Checks that the backend answers with this key (GET /mpm/isAlive/ping).
        log     Sends each row as a prediction event (or, with --labels, as a label event): a CSV with the upload's
                header, or JSON lines like {"predictionId":"p1","timestamp":1713006000001,"features":{...},
                "prediction":{...},"labels":{...}}.

        Settings (flags win over the environment):
          --api-key <key>         COMET_API_KEY (required)
          --url <url>             COMET_URL_OVERRIDE / COMET_URL
          --workspace <name>      COMET_MPM_WORKSPACE_NAME (required by upload and log)
          --model <name>          COMET_MPM_MODEL_NAME (required by upload and log)
          --model-version <v>     COMET_MPM_MODEL_VERSION (required by upload and log)
          --base-path <path>      COMET_MPM_BASE_PATH (default /mpm/)
          --chunk-size-mb <n>     COMET_MPM_CSV_CHUNK_SIZE_MB (default 100)
          --retries <n>           retries of a failed request (default 5)

        Exit codes: 0 success, 1 the backend failed or could not be reached, 2 wrong usage, settings or file.
        """;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        try
        {
            var parsed = CliArguments.Parse(args);
            if (parsed.Has("--version"))
            {
                await Console.Out.WriteLineAsync(typeof(CliApp).Assembly.GetName().Version?.ToString(3)).ConfigureAwait(false);
                return Success;
            }

            if (parsed.Command is null || parsed.Has("--help") || parsed.Command == "help")
            {
                await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
                return parsed.Command is null && !parsed.Has("--help") ? UsageError : Success;
            }

            return parsed.Command switch
            {
                "upload" => await UploadAsync(parsed, cancellationToken).ConfigureAwait(false),
                "ping" => await PingAsync(parsed, cancellationToken).ConfigureAwait(false),
                "log" => await LogAsync(parsed, cancellationToken).ConfigureAwait(false),
                _ => throw new CliException($"unknown command '{parsed.Command}'. Commands: upload, ping, log (see comet-mpm --help).", UsageError),
            };
        }
        catch (CliException ex)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message).ConfigureAwait(false);
            return ex.ExitCode;
        }
        catch (CometMpmBackendException ex)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message).ConfigureAwait(false);
            return Failure;
        }
        catch (Exception ex) when (ex is InvalidDataException or FileNotFoundException or ArgumentException or OptionsValidationException)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message).ConfigureAwait(false);
            return UsageError;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("cancelled.").ConfigureAwait(false);
            return Failure;
        }
    }

    private static async Task<int> UploadAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var file = RequireFile(args, "upload");
        var type = args.Get("--type") switch
        {
            "events" or "EVENTS" => DatasetType.Events,
            "late-labels" or "LATE_LABELS" => DatasetType.LateLabels,
            "training-events" or "TRAINING_EVENTS" => DatasetType.TrainingEvents,
            null => throw new CliException("upload needs --type events, late-labels or training-events.", UsageError),
            var other => throw new CliException($"--type '{other}' is not one of events, late-labels, training-events.", UsageError),
        };
        bool? keepDefault = args.Get("--keep-default-na-values") switch
        {
            null => null,
            var v when bool.TryParse(v, out var b) => b,
            var v => throw new CliException($"--keep-default-na-values must be true or false, not '{v}'.", UsageError),
        };

        await using var session = CliSession.Create(args, requireModel: true);
        var total = new FileInfo(file).Length;
        using var bar = new ProgressBar(total, enabled: !args.Has("--no-progress") && !Console.IsErrorRedirected);
        var progress = new LineProgress(line =>
        {
            bar.Clear();
            Console.Out.WriteLine("server: " + line);
        });
        DatasetUploadResult result;
        if (session.Mpm is CometMpmClient client)
        {
            result = await client.UploadDatasetCsvAsync(file, type, args.Get("--dataset-name"), args.Get("--na-values"), keepDefault, progress, bar.Add, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            result = await session.Mpm.UploadDatasetCsvAsync(file, type, args.Get("--dataset-name"), args.Get("--na-values"), keepDefault, progress, cancellationToken).ConfigureAwait(false);
        }

        bar.Clear();
        await Console.Out.WriteLineAsync(result.Message).ConfigureAwait(false);
        return Success;
    }

    private static async Task<int> PingAsync(CliArguments args, CancellationToken cancellationToken)
    {
        await using var session = CliSession.Create(args, requireModel: false);
        if (session.Mpm is not CometMpmClient client)
        {
            await Console.Out.WriteLineAsync("Comet MPM is disabled (COMET_MPM_DISABLED); nothing was checked.").ConfigureAwait(false);
            return Success;
        }

        var result = await client.PingBackendAsync(cancellationToken).ConfigureAwait(false);
        var url = new Uri(client.MpmBase, "isAlive/ping");
        if (result.IsSuccess)
        {
            await Console.Out.WriteLineAsync($"ok: {url} answered {result.StatusCode}.").ConfigureAwait(false);
            return Success;
        }

        var message = result.StatusCode switch
        {
            0 => $"could not reach {url}: {result.Detail}. Check --url / COMET_URL_OVERRIDE and the network.",
            401 or 403 => $"{url} refused the API key ({result.Detail}). Check --api-key / COMET_API_KEY.",
            _ => $"{url} answered {result.Detail}. Is MPM installed there? Check --url and --base-path.",
        };
        throw new CliException(message, Failure);
    }

    private static async Task<int> LogAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var file = RequireFile(args, "log");
        var format = args.Get("--format") ?? (file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "jsonl" : "csv");
        var labels = args.Has("--labels");
        IEnumerable<FileRecord> records = format switch
        {
            "csv" => FileRecords.FromCsv(file, labels),
            "jsonl" => FileRecords.FromJsonLines(file),
            _ => throw new CliException($"--format must be csv or jsonl, not '{format}'.", UsageError),
        };

        await using var session = CliSession.Create(args, requireModel: true);
        var mpm = session.Mpm;
        long logged = 0, rejected = 0, dropped = 0;
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
                    logged++;
                    break;
                case LogStatus.InvalidInput:
                    rejected++;
                    await Console.Error.WriteLineAsync($"line {record.Line}: {result.Message}").ConfigureAwait(false);
                    break;
                default:
                    dropped++;
                    if (dropped == 1)
                    {
                        await Console.Error.WriteLineAsync($"line {record.Line}: {result.Message}").ConfigureAwait(false);
                    }

                    break;
            }
        }

        var delivered = await mpm.FlushAsync(cancellationToken).ConfigureAwait(false);
        var kind = labels ? "labels" : "predictions";
        await Console.Out.WriteLineAsync($"{logged} {kind} sent, {rejected} rejected, {dropped} dropped.").ConfigureAwait(false);
        if (!delivered || mpm.HasLoggingError)
        {
            var errors = mpm.GetLoggingErrors();
            throw new CliException($"not everything was delivered: {string.Join(" | ", errors.Select(e => e.Message))}", Failure);
        }

        return rejected > 0 || dropped > 0 ? Failure : Success;
    }

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

    private static string RequireFile(CliArguments args, string command)
    {
        if (args.Positionals.Count != 1)
        {
            throw new CliException($"{command} needs one file, e.g. comet-mpm {command} data.csv.", UsageError);
        }

        var file = args.Positionals[0];
        if (!File.Exists(file))
        {
            throw new CliException($"the file '{file}' does not exist.", UsageError);
        }

        return file;
    }

    /// <summary>Reports synchronously, in order.</summary>
    private sealed class LineProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }

    internal static string Format(double value) => value.ToString("F1", CultureInfo.InvariantCulture);
}
