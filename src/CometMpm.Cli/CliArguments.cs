namespace CometMpm.Cli;

/// <summary>
/// The parsed command line: a command, positional arguments and <c>--name value</c> / <c>--name=value</c> options.
/// Hand-written: the grammar is small, and it keeps the tool free of a parser dependency.
/// </summary>
internal sealed class CliArguments
{
    private static readonly HashSet<string> Flags = new(StringComparer.Ordinal) { "--help", "-h", "--labels", "--version", "--no-progress" };

    private readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public string? Command { get; private set; }

    public List<string> Positionals { get; } = [];

    public static CliArguments Parse(string[] args)
    {
        var parsed = new CliArguments();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.StartsWith('-') && arg.Length > 1)
            {
                var equals = arg.IndexOf('=', StringComparison.Ordinal);
                var name = equals > 0 ? arg[..equals] : arg;
                if (Flags.Contains(name))
                {
                    parsed._flags.Add(name == "-h" ? "--help" : name);
                    continue;
                }

                if (!CliApp.KnownOptions.Contains(name))
                {
                    throw new CliException($"unknown option '{name}'. Run 'comet-mpm --help' for the options.", CliApp.UsageError);
                }

                string value;
                if (equals > 0)
                {
                    value = arg[(equals + 1)..];
                }
                else if (i + 1 < args.Length)
                {
                    value = args[++i];
                }
                else
                {
                    throw new CliException($"option '{name}' needs a value.", CliApp.UsageError);
                }

                parsed._options[name] = value;
            }
            else if (parsed.Command is null)
            {
                parsed.Command = arg;
            }
            else
            {
                parsed.Positionals.Add(arg);
            }
        }

        return parsed;
    }

    public string? Get(string name) => _options.TryGetValue(name, out var value) ? value : null;

    public bool Has(string flag) => _flags.Contains(flag);
}

/// <summary>A failure with a message for the user and an exit code.</summary>
internal sealed class CliException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
