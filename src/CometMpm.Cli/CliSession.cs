using System.Globalization;
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

    public static CliSession Create(CliArguments args, bool requireModel)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddCometMpm(options =>
        {
            Set(args, "--api-key", v => options.ApiKey = v);
            Set(args, "--workspace", v => options.WorkspaceName = v);
            Set(args, "--model", v => options.ModelName = v);
            Set(args, "--model-version", v => options.ModelVersion = v);
            Set(args, "--base-path", v => options.BasePath = v);
            Set(args, "--url", v => options.UrlOverride = Uri.TryCreate(v, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                ? uri
                : throw new CliException($"--url '{v}' is not an absolute http(s) URL.", CliApp.UsageError));
            Set(args, "--retries", v => options.MaxRetryAttempts = PositiveOrZero("--retries", v));
            Set(args, "--chunk-size-mb", v => options.CsvChunkSizeMb = PositiveOrZero("--chunk-size-mb", v));
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
            throw new CliException(
                ex.Failures.Any(f => f.Contains("ApiKey", StringComparison.Ordinal)) && args.Get("--api-key") is null
                    ? "no API key: set COMET_API_KEY or pass --api-key."
                    : "invalid settings: " + string.Join(" ", ex.Failures),
                CliApp.UsageError);
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

    private static void Set(CliArguments args, string name, Action<string> set)
    {
        if (args.Get(name) is { } value)
        {
            set(value);
        }
    }

    private static int PositiveOrZero(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && number >= 0
            ? number
            : throw new CliException($"{name} must be a whole number, not '{value}'.", CliApp.UsageError);
}
