using Microsoft.Extensions.Options;

namespace CometMpm.Configuration;

/// <summary>
/// Validates the options at start. Every message names the configuration key, the environment
/// variable and the fix; none repeats the API key.
/// </summary>
internal sealed class CometMpmOptionsValidator(EnvironmentErrors environmentErrors) : IValidateOptions<CometMpmOptions>
{
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

        Range(options.MaxBatchSize, 1, 100_000, "MaxBatchSize", "COMET_MPM_MAX_BATCH_SIZE");
        Range(options.QueueCapacity, 1, 10_000_000, "QueueCapacity", null);
        Range(options.CsvChunkSizeMb, 1, 10_000, "CsvChunkSizeMb", "COMET_MPM_CSV_CHUNK_SIZE_MB");
        Range(options.MaxRetryAttempts, 0, 100, "MaxRetryAttempts", null);
        Duration(options.MaxBatchTime, TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(1), "MaxBatchTime", "COMET_MPM_MAX_BATCH_TIME");
        Duration(options.EndTimeout, TimeSpan.Zero, TimeSpan.FromHours(1), "EndTimeout", "COMET_MPM_JOIN_TIMEOUT");
        Duration(options.BatchSendingTimeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1), "BatchSendingTimeout", "COMET_MPM_BATCH_SENDING_TIMEOUT");
        Duration(options.PingTimeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(5), "PingTimeout", null);
        Duration(options.RetryBaseDelay, TimeSpan.Zero, TimeSpan.FromMinutes(10), "RetryBaseDelay", null);
        Duration(options.RetryMaxDelay, TimeSpan.Zero, TimeSpan.FromHours(1), "RetryMaxDelay", null);
        if (!Enum.IsDefined(options.FullQueuePolicy))
        {
            failures.Add($"{section}:FullQueuePolicy must be DropNewest, DropOldest or Wait.");
        }

        LongRange(options.MaxQueueBytes, 1024, long.MaxValue, "MaxQueueBytes");
        Range(options.MaxRequestBytes, 1024, int.MaxValue, "MaxRequestBytes", null);
        Range(options.CircuitBreakerFailureThreshold, 1, 1000, "CircuitBreakerFailureThreshold", null);
        Duration(options.FullQueueWaitTimeout, TimeSpan.Zero, TimeSpan.FromMinutes(10), "FullQueueWaitTimeout", null);
        Duration(options.CircuitBreakDuration, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1), "CircuitBreakDuration", null);
        if (options.Outbox is { } outbox)
        {
            LongRange(outbox.MaxBytes, 1024, long.MaxValue, "Outbox:MaxBytes");
            Duration(outbox.MaxAge, TimeSpan.FromSeconds(1), TimeSpan.FromDays(365), "Outbox:MaxAge", null);
            Duration(outbox.SpillInterval, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1), "Outbox:SpillInterval", null);
            if (outbox.Directory is { } directory && (directory.Trim().Length == 0 || !Path.IsPathFullyQualified(Path.GetFullPath(directory))))
            {
                failures.Add($"{section}:Outbox:Directory '{directory}' is not a usable path: name a directory only this application writes to, e.g. /var/lib/myapp/mpm-outbox.");
            }
        }

        if (options.MaxBatchSize > options.QueueCapacity)
        {
            failures.Add($"{section}:MaxBatchSize ({options.MaxBatchSize}) must not exceed {section}:QueueCapacity ({options.QueueCapacity}): raise the capacity or lower the batch size.");
        }

        // OptionsValidationException joins the failures with "; ": without their final period they read as one list.
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures.Select(f => f.TrimEnd('.')));

        void Required(string? value, string key, string? env, string what)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                var where = env is null ? "appsettings.json" : $"appsettings.json or the {env} environment variable";
                failures.Add($"{section}:{key} is missing: set it to {what} in {where} (or set {section}:Disabled to true to run without Comet).");
            }
        }

        void Range(int value, int min, int max, string key, string? env)
        {
            if (value < min || value > max)
            {
                failures.Add($"{section}:{key} is {value} but must be between {min} and {max}{(env is null ? "" : $" (environment variable {env})")}.");
            }
        }

        void LongRange(long value, long min, long max, string key)
        {
            if (value < min || value > max)
            {
                failures.Add($"{section}:{key} is {value} but must be at least {min}.");
            }
        }

        void Duration(TimeSpan value, TimeSpan min, TimeSpan max, string key, string? env)
        {
            if (value < min || value > max)
            {
                // "MaxBatchTime": "5" is five days to .NET: say so when a whole number of days looks like that mistake.
                var bareNumber = value > TimeSpan.Zero && value.Ticks % TimeSpan.TicksPerDay == 0
                    ? $"; '{value.Days}' alone is read as {value.Days} days: write 00:00:{Math.Min(value.Days, 59):D2} for {value.Days} seconds"
                    : "";
                failures.Add($"{section}:{key} is {value} but must be between {min} and {max} (a TimeSpan such as 00:00:30{(env is null ? "" : $"; environment variable {env} in seconds")}{bareNumber}).");
            }
        }
    }
}

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
