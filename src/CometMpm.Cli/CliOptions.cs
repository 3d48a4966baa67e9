using System.CommandLine;
using System.Globalization;

namespace CometMpm.Cli;

/// <summary>
/// The commands and their typed options. Each command lists only the options it reads, so its <c>--help</c> is its own
/// and an option of another command is an error that names it.
/// </summary>
internal sealed class CliOptions
{
    public const string ExitCodes = """
        Exit codes:
          0  everything was delivered (log) or stored (upload), or the backend answered (ping)
          1  the backend failed, refused or could not be reached, or not everything was delivered
          2  wrong usage, settings or file: nothing was sent
          3  some lines or rows were invalid: those were not sent or not stored, the rest were
        """;

    /// <summary>The exit codes in one line, for each command's help (the root's help has the table).</summary>
    public const string ExitCodesLine = "Exit codes: 0 all delivered or stored, 1 backend failure or not all delivered, 2 usage, 3 some lines or rows invalid.";

    public Option<string> ApiKey { get; } = Text("--api-key", "key", "The API key (COMET_API_KEY). Never printed.");

    public Option<string> Url { get; } = Text("--url", "url", "The Comet server (COMET_URL_OVERRIDE or COMET_URL).");

    public Option<string> Workspace { get; } = Text("--workspace", "name", "The workspace (COMET_MPM_WORKSPACE_NAME).");

    public Option<string> Model { get; } = Text("--model", "name", "The model name (COMET_MPM_MODEL_NAME).");

    public Option<string> ModelVersion { get; } = Text("--model-version", "version", "The model version (COMET_MPM_MODEL_VERSION).");

    public Option<string> BasePath { get; } = Text("--base-path", "path", "The MPM path on the server (COMET_MPM_BASE_PATH, default /mpm/).");

    public Option<int?> Retries { get; } = Count("--retries", "Retries of a failed request (default 5).");

    public Option<int?> ChunkSizeMb { get; } = Count("--chunk-size-mb", "Upload a file above this size in pieces of it (COMET_MPM_CSV_CHUNK_SIZE_MB, default 100).");

    public Argument<string> File { get; } = new("file") { Description = "The file to read." };

    public Option<string> Type { get; } = Choice("--type", "The dataset the rows go to.", "events", "late-labels", "training-events", "EVENTS", "LATE_LABELS", "TRAINING_EVENTS");

    public Option<string> DatasetName { get; } = Text("--dataset-name", "name", "The reference dataset's name (required by --type training-events).");

    public Option<string> NaValues { get; } = Text("--na-values", "a,b", "More cell values that mean 'no value'.");

    public Option<bool?> KeepDefaultNaValues { get; } = new("--keep-default-na-values") { HelpName = "true|false", Description = "Whether the default 'no value' cells (NA, null, NaN, ...) still count (default true)." };

    public Option<bool> NoProgress { get; } = new("--no-progress") { Description = "No progress bar on standard error." };

    public Option<bool> Labels { get; } = new("--labels") { Description = "Log each record as a label of an earlier prediction (predictionId required), not as a prediction." };

    public Option<string> Format { get; } = Choice("--format", "The file's format (default: jsonl for .jsonl/.ndjson/.json files, else csv).", "csv", "jsonl");

    /// <summary>The root command with <c>upload</c>, <c>ping</c> and <c>log</c>; the actions run the given handlers.</summary>
    public RootCommand Build(
        Func<ParseResult, CancellationToken, Task<int>> upload,
        Func<ParseResult, CancellationToken, Task<int>> ping,
        Func<ParseResult, CancellationToken, Task<int>> log)
    {
        Type.Required = true;
        var uploadCommand = new Command("upload", "Uploads a CSV dataset (header: timestamp in ms, predictionId, feature_*, prediction_*, label_value_*).\n" + ExitCodesLine)
        {
            File, Type, DatasetName, NaValues, KeepDefaultNaValues, NoProgress,
        };
        AddSettings(uploadCommand, model: true);
        uploadCommand.Options.Add(ChunkSizeMb);
        uploadCommand.Validators.Add(result =>
        {
            if (result.GetValue(Type) is "training-events" or "TRAINING_EVENTS" && string.IsNullOrWhiteSpace(result.GetValue(DatasetName)))
            {
                result.AddError("--type training-events needs --dataset-name <name>: the reference dataset's name.");
            }
        });
        uploadCommand.SetAction(upload);

        var pingCommand = new Command("ping", "Checks that the backend answers with this key (GET {base-path}isAlive/ping).\n" + ExitCodesLine);
        pingCommand.Options.Add(ApiKey);
        pingCommand.Options.Add(Url);
        pingCommand.Options.Add(BasePath);
        pingCommand.Options.Add(Retries);
        pingCommand.SetAction(ping);

        var logCommand = new Command("log", """
            Sends each record as a prediction event (or, with --labels, as a label event): a CSV with the upload's header, or
            JSON lines like {"predictionId":"p1","timestamp":1713006000001,"features":{...},"prediction":{...},"labels":{...}}.
            A prediction without a predictionId gets a new UUID. A bad line is reported with its number; the others are sent.

            """ + ExitCodesLine)
        {
            File, Labels, Format,
        };
        AddSettings(logCommand, model: true);
        logCommand.SetAction(log);

        var root = new RootCommand("comet-mpm: Comet Model Production Monitoring from the command line. Settings come from the COMET_* environment variables; a flag wins over its variable.\n\n" + ExitCodes)
        {
            uploadCommand, pingCommand, logCommand,
        };
        return root;
    }

    private void AddSettings(Command command, bool model)
    {
        command.Options.Add(ApiKey);
        command.Options.Add(Url);
        if (model)
        {
            command.Options.Add(Workspace);
            command.Options.Add(Model);
            command.Options.Add(ModelVersion);
        }

        command.Options.Add(BasePath);
        command.Options.Add(Retries);
    }

    private static Option<string> Text(string name, string helpName, string description) =>
        new(name) { HelpName = helpName, Description = description };

    private static Option<string> Choice(string name, string description, params string[] values)
    {
        var option = new Option<string>(name) { Description = description, HelpName = string.Join('|', values.Where(v => !v.Contains('_', StringComparison.Ordinal) && v.ToLowerInvariant() == v)) };
        option.AcceptOnlyFromAmong(values);
        return option;
    }

    private static Option<int?> Count(string name, string description)
    {
        var option = new Option<int?>(name) { HelpName = "n", Description = description };
        option.Validators.Add(result =>
        {
            // Read the token, not the value: a value that failed to parse is reported by the parser, naming the option.
            if (result.Tokens.Count == 1 && int.TryParse(result.Tokens[0].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n < 0)
            {
                result.AddError($"{name} must be 0 or more.");
            }
        });
        return option;
    }
}
