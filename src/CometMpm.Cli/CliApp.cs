using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Options;

namespace CometMpm.Cli;

/// <summary>
/// <c>comet-mpm</c>: parses the command line (System.CommandLine: per-command help, typed options, POSIX parsing),
/// reports a usage error on standard error with exit code 2, and runs the command.
/// </summary>
internal static class CliApp
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int UsageError = 2;
    public const int InvalidData = 3;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new CliOptions();
        var commands = new CliCommands(options);
        var root = options.Build(commands.UploadAsync, commands.PingAsync, commands.LogAsync);

        // No response files: an argument starting with @ is a file name, not a list of more arguments.
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parsed.Errors.Count > 0)
        {
            // Usage errors go to standard error only, with no help text: standard output stays clean for a pipeline.
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync("error: " + error.Message).ConfigureAwait(false);
            }

            var command = parsed.CommandResult.Command;
            var help = command == root ? "comet-mpm --help" : $"comet-mpm {command.Name} --help";
            await Console.Error.WriteLineAsync($"Run '{help}' for the usage.").ConfigureAwait(false);
            return UsageError;
        }

        try
        {
            return await parsed.InvokeAsync(
                new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null },
                cancellationToken).ConfigureAwait(false);
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

    internal static string Format(double value) => value.ToString("F1", CultureInfo.InvariantCulture);
}

/// <summary>A failure with a message for the user and an exit code.</summary>
internal sealed class CliException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
