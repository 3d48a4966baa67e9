using System.CommandLine;

namespace CometMpm.Cli;

/// <summary>The actions of <c>upload</c> and <c>ping</c>; <c>log</c> is in <see cref="LogCommand"/>.</summary>
internal sealed class CliCommands(CliOptions options)
{
    public async Task<int> UploadAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var file = RequireFile(parsed.GetRequiredValue(options.File));
        var type = parsed.GetRequiredValue(options.Type) switch
        {
            "events" or "EVENTS" => DatasetType.Events,
            "late-labels" or "LATE_LABELS" => DatasetType.LateLabels,
            _ => DatasetType.TrainingEvents,
        };
        var datasetName = parsed.GetValue(options.DatasetName);
        var naValues = parsed.GetValue(options.NaValues);
        var keepDefault = parsed.GetValue(options.KeepDefaultNaValues);

        await using var session = CliSession.Create(parsed, options, requireModel: true);
        var total = new FileInfo(file).Length;
        using var bar = new ProgressBar(total, enabled: !parsed.GetValue(options.NoProgress) && !Console.IsErrorRedirected);
        var summary = new UploadSummary();
        var progress = new LineProgress(line =>
        {
            bar.Clear();
            summary.Add(line);
            Console.Out.WriteLine("server: " + line);
        });
        DatasetUploadResult result;
        if (session.Mpm is CometMpmClient client)
        {
            result = await client.UploadDatasetCsvAsync(file, type, datasetName, naValues, keepDefault, progress, bar.Add, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            result = await session.Mpm.UploadDatasetCsvAsync(file, type, datasetName, naValues, keepDefault, progress, cancellationToken).ConfigureAwait(false);
        }

        bar.Clear();
        await Console.Out.WriteLineAsync(result.Message).ConfigureAwait(false);

        // The server answered 200 but may have stored only some rows: its summary lines say how many.
        if (summary.Problem() is { } problem)
        {
            await Console.Error.WriteLineAsync("error: " + problem).ConfigureAwait(false);
            return CliApp.InvalidData;
        }

        return CliApp.Success;
    }

    public async Task<int> PingAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        await using var session = CliSession.Create(parsed, options, requireModel: false);
        if (session.Mpm is not CometMpmClient client)
        {
            await Console.Out.WriteLineAsync("Comet MPM is disabled (COMET_MPM_DISABLED); nothing was checked.").ConfigureAwait(false);
            return CliApp.Success;
        }

        var result = await client.PingBackendAsync(cancellationToken).ConfigureAwait(false);
        var url = new Uri(client.MpmBase, "isAlive/ping");
        if (result.IsSuccess)
        {
            await Console.Out.WriteLineAsync($"ok: {url} answered {result.StatusCode}.").ConfigureAwait(false);
            return CliApp.Success;
        }

        var message = result.StatusCode switch
        {
            0 => $"could not reach {url}: {result.Detail}. Check --url / COMET_URL_OVERRIDE and the network.",
            401 or 403 => $"{url} refused the API key ({result.Detail}). Check --api-key / COMET_API_KEY.",
            _ => $"{url} answered {result.Detail}. Is MPM installed there? Check --url and --base-path.",
        };
        throw new CliException(message, CliApp.Failure);
    }

    public Task<int> LogAsync(ParseResult parsed, CancellationToken cancellationToken) =>
        LogCommand.RunAsync(parsed, options, cancellationToken);

    internal static string RequireFile(string file) =>
        File.Exists(file) ? file : throw new CliException($"the file '{file}' does not exist.", CliApp.UsageError);

    /// <summary>Reports synchronously, in order.</summary>
    private sealed class LineProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
