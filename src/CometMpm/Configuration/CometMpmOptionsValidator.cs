using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace CometMpm.Configuration;

/// <summary>
/// Validates the options at start: values the environment could not supply, the bounds annotated on each setting (through
/// the generated validators) and the rules that span several settings or the host. Every message names the configuration
/// key, the environment variable and the fix; none repeats the API key.
/// </summary>
internal sealed class CometMpmOptionsValidator(EnvironmentErrors environmentErrors, IServiceProvider? services = null) : IValidateOptions<CometMpmOptions>
{
    private static readonly CometMpmOptionsAnnotations AnnotationsValidator = new();
    private static readonly CometMpmOutboxOptionsAnnotations OutboxAnnotationsValidator = new();

    public ValidateOptionsResult Validate(string? name, CometMpmOptions options)
    {
        var section = CometMpmConfigureOptions.SectionFor(name);
        var failures = new List<string>(environmentErrors.For(name ?? Options.DefaultName));

        if (!options.Disabled)
        {
            // The environment variables are shared by every client: a named client's own settings go in its section.
            var named = !string.IsNullOrEmpty(name);
            Required(options.ApiKey, "ApiKey", "COMET_API_KEY", "your Comet API key");
            Required(options.WorkspaceName, "WorkspaceName", "COMET_MPM_WORKSPACE_NAME", "the Comet workspace of the model");
            Required(options.ModelName, "ModelName", named ? null : "COMET_MPM_MODEL_NAME", "the model's name in MPM");
            Required(options.ModelVersion, "ModelVersion", named ? null : "COMET_MPM_MODEL_VERSION", "the model's version, e.g. 1.0.0");
        }

        if (!options.Disabled && !string.IsNullOrWhiteSpace(options.ApiKey) && options.ApiKey.Any(c => c <= ' ' || c > '~'))
        {
            // The value itself is never repeated: it is a secret.
            failures.Add($"{section}:ApiKey contains spaces, line breaks or non-ASCII characters: copy the key again from your Comet account settings.");
        }

        if (options.UrlOverride is { } url && (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)))
        {
            failures.Add($"{section}:UrlOverride must be an absolute http(s) URL such as https://www.comet.com/.");
        }

        // The bounds of each setting are annotations on the options, evaluated by the generated validators.
        failures.AddRange(Prefixed(AnnotationsValidator.Validate(name, options), section + ":"));
        if (options.Outbox is not null)
        {
            failures.AddRange(Prefixed(OutboxAnnotationsValidator.Validate(name, options.Outbox), section + ":Outbox:"));
        }

        if (!Enum.IsDefined(options.FullQueuePolicy))
        {
            failures.Add($"{section}:FullQueuePolicy must be DropNewest, DropOldest or Wait.");
        }

        if (options.Outbox is { } outbox)
        {
            if (outbox.Directory is { } directory && (directory.Trim().Length == 0 || !Path.IsPathFullyQualified(Path.GetFullPath(directory))))
            {
                failures.Add($"{section}:Outbox:Directory '{directory}' is not a usable path: name a directory only this application writes to, e.g. /var/lib/myapp/mpm-outbox.");
            }
        }

        if (options.MaxBatchSize > options.QueueCapacity)
        {
            failures.Add($"{section}:MaxBatchSize ({options.MaxBatchSize}) must not exceed {section}:QueueCapacity ({options.QueueCapacity}): raise the capacity or lower the batch size.");
        }

        // The host cancels stopping after its ShutdownTimeout: a longer EndTimeout would promise time the host never gives.
        if (services?.GetService<IHostEnvironment>() is not null
            && services.GetService<IOptions<HostOptions>>()?.Value.ShutdownTimeout is { } shutdownTimeout
            && options.EndTimeout > shutdownTimeout)
        {
            failures.Add($"{section}:EndTimeout ({options.EndTimeout}) is longer than the host's shutdown timeout ({shutdownTimeout}), which would stop the client before it has sent what is queued: lower {section}:EndTimeout (environment variable COMET_MPM_JOIN_TIMEOUT) or raise the host's, e.g. builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60)).");
        }

        // OptionsValidationException joins the failures with "; ": without their final period they read as one list.
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures.Select(f => f.TrimEnd('.')));

        static IEnumerable<string> Prefixed(ValidateOptionsResult result, string prefix) =>
            result.Failed ? result.Failures!.Select(failure => prefix + failure) : [];

        void Required(string? value, string key, string? env, string what)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                var where = env is null ? "appsettings.json" : $"appsettings.json or the {env} environment variable";
                failures.Add($"{section}:{key} is missing: set it to {what} in {where} (or set {section}:Disabled to true to run without Comet).");
            }
        }
    }
}

/// <summary>Evaluates the annotations of <see cref="CometMpmOptions"/> (generated at build time: no reflection).</summary>
[OptionsValidator]
internal sealed partial class CometMpmOptionsAnnotations : IValidateOptions<CometMpmOptions>;

/// <summary>Evaluates the annotations of <see cref="CometMpmOutboxOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class CometMpmOutboxOptionsAnnotations : IValidateOptions<CometMpmOutboxOptions>;

/// <summary>Environment values that could not be parsed, per options name, reported by the validator.</summary>
internal sealed class EnvironmentErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public ICollection<string> Reset(string name)
    {
        lock (_lock)
        {
            var list = new List<string>();
            _errors[name] = list;
            return list;
        }
    }

    public IReadOnlyList<string> For(string name)
    {
        lock (_lock)
        {
            return _errors.TryGetValue(name, out var list) ? [.. list] : [];
        }
    }
}
