using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CometMpm.Cli;

/// <summary>A client built from the <c>COMET_*</c> environment variables overridden by the flags, and disposed at the end.</summary>
internal sealed class CliSession : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private CliSession(ServiceProvider services, ICometMpm mpm)
    {
        _services = services;
        Mpm = mpm;
    }

    public ICometMpm Mpm { get; }

    public static CliSession Create(ParseResult args, CliOptions flags, bool requireModel)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddCometMpm(options =>
        {
            // The library read the COMET_* variables already; a flag given wins over its variable.
            Set(args.GetValue(flags.ApiKey), v => options.ApiKey = v);
            Set(args.GetValue(flags.Workspace), v => options.WorkspaceName = v);
            Set(args.GetValue(flags.Model), v => options.ModelName = v);
            Set(args.GetValue(flags.ModelVersion), v => options.ModelVersion = v);
            Set(args.GetValue(flags.BasePath), v => options.BasePath = v);
            Set(args.GetValue(flags.Url), v => options.UrlOverride = Uri.TryCreate(v, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                ? uri
                : throw new CliException($"--url '{v}' is not an absolute http(s) URL.", CliApp.UsageError));
            if (args.GetValue(flags.Retries) is { } retries)
            {
                options.MaxRetryAttempts = retries;
            }

            if (args.GetValue(flags.ChunkSizeMb) is { } chunk)
            {
                options.CsvChunkSizeMb = chunk;
            }

            if (!requireModel)
            {
                // ping does not send model data: placeholders satisfy the validation.
                options.WorkspaceName ??= "-";
                options.ModelName ??= "-";
                options.ModelVersion ??= "-";
            }
        });
        var provider = services.BuildServiceProvider();
        try
        {
            var options = provider.GetRequiredService<IOptionsMonitor<CometMpmOptions>>().Get(Options.DefaultName);
            if (!options.Disabled)
            {
                if (string.IsNullOrWhiteSpace(options.ApiKey))
                {
                    throw new CliException("no API key: set COMET_API_KEY or pass --api-key.", CliApp.UsageError);
                }

                var missing = new List<string>();
                if (string.IsNullOrWhiteSpace(options.WorkspaceName))
                {
                    missing.Add("the workspace (COMET_MPM_WORKSPACE_NAME or --workspace)");
                }

                if (string.IsNullOrWhiteSpace(options.ModelName))
                {
                    missing.Add("the model name (COMET_MPM_MODEL_NAME or --model)");
                }

                if (string.IsNullOrWhiteSpace(options.ModelVersion))
                {
                    missing.Add("the model version (COMET_MPM_MODEL_VERSION or --model-version)");
                }

                if (missing.Count > 0)
                {
                    throw new CliException("missing " + string.Join(", ", missing) + ".", CliApp.UsageError);
                }
            }

            return new CliSession(provider, provider.GetRequiredService<ICometMpm>());
        }
        catch (OptionsValidationException ex)
        {
            provider.Dispose();
            throw new CliException(Explain(ex.Failures), CliApp.UsageError);
        }
        catch
        {
            provider.Dispose();
            throw;
        }
    }

    /// <summary>Stops the client without network calls: <c>log</c> has flushed already, and ending would start the
    /// client's own start-up health check, an extra request for <c>ping</c> and <c>upload</c>.</summary>
    public ValueTask DisposeAsync()
    {
        _services.Dispose();
        return ValueTask.CompletedTask;
    }

    private static void Set(string? value, Action<string> set)
    {
        if (value is not null)
        {
            set(value);
        }
    }

    /// <summary>The library's validation failures in the user's words: the flag and the variable, not the option's name.</summary>
    private static string Explain(IEnumerable<string> failures)
    {
        var messages = failures.Select(failure => Settings.FirstOrDefault(s => failure.Contains(s.Property, StringComparison.Ordinal)) is { Property: not null } s
            ? $"{s.Flag} / {s.Variable}: {failure}"
            : failure).ToList();
        return messages.Any(m => m.StartsWith("--api-key", StringComparison.Ordinal))
            ? "no API key: set COMET_API_KEY or pass --api-key."
            : "invalid settings: " + string.Join(" ", messages);
    }

    private static readonly (string Property, string Flag, string Variable)[] Settings =
    [
        ("ApiKey", "--api-key", "COMET_API_KEY"),
        ("WorkspaceName", "--workspace", "COMET_MPM_WORKSPACE_NAME"),
        ("ModelName", "--model", "COMET_MPM_MODEL_NAME"),
        ("ModelVersion", "--model-version", "COMET_MPM_MODEL_VERSION"),
        ("BasePath", "--base-path", "COMET_MPM_BASE_PATH"),
        ("UrlOverride", "--url", "COMET_URL_OVERRIDE"),
        ("MaxRetryAttempts", "--retries", "-"),
        ("CsvChunkSizeMb", "--chunk-size-mb", "COMET_MPM_CSV_CHUNK_SIZE_MB"),
    ];
}
