using System.Globalization;

namespace CometMpm.Configuration;

/// <summary>
/// Applies the Python SDK's <c>COMET_*</c> environment variables to the options. It runs before the
/// configuration section is bound, so explicit configuration wins. Values that cannot be parsed are
/// remembered and reported by the validator, naming the variable.
/// </summary>
internal static class EnvironmentSettings
{
    internal static void Apply(CometMpmOptions options, Func<string, string?> read, ICollection<string> errors)
    {
        SetString(read, "COMET_API_KEY", v => options.ApiKey = v);
        SetString(read, "COMET_MPM_WORKSPACE_NAME", v => options.WorkspaceName = v);
        SetString(read, "COMET_MPM_MODEL_NAME", v => options.ModelName = v);
        SetString(read, "COMET_MPM_MODEL_VERSION", v => options.ModelVersion = v);
        SetString(read, "COMET_MPM_BASE_PATH", v => options.BasePath = v);

        // COMET_URL_OVERRIDE wins over COMET_URL, as in the Python settings.
        var url = NonEmpty(read("COMET_URL_OVERRIDE")) is { } o ? ("COMET_URL_OVERRIDE", o)
            : NonEmpty(read("COMET_URL")) is { } u ? ("COMET_URL", u) : default;
        if (url.Item2 is not null)
        {
            if (Uri.TryCreate(url.Item2, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            {
                options.UrlOverride = uri;
            }
            else
            {
                errors.Add($"Environment variable {url.Item1} is not an absolute http(s) URL. Set it like https://www.comet.com/ or unset it.");
            }
        }

        // The seed documents MPM_MAX_BATCH_*; the real names carry COMET_. Both are honoured, COMET_ first.
        SetInt(read, errors, ["COMET_MPM_MAX_BATCH_SIZE", "MPM_MAX_BATCH_SIZE"], v => options.MaxBatchSize = v);
        SetInt(read, errors, ["COMET_MPM_MAX_BATCH_TIME", "MPM_MAX_BATCH_TIME"], v => options.MaxBatchTime = TimeSpan.FromSeconds(v));
        SetInt(read, errors, ["COMET_MPM_JOIN_TIMEOUT"], v => options.EndTimeout = TimeSpan.FromSeconds(v));
        SetInt(read, errors, ["COMET_MPM_BATCH_SENDING_TIMEOUT"], v => options.BatchSendingTimeout = TimeSpan.FromSeconds(v));
        SetInt(read, errors, ["COMET_MPM_CSV_CHUNK_SIZE_MB"], v => options.CsvChunkSizeMb = v);
        SetBool(read, errors, "COMET_MPM_RAISE_ON_ERROR_DURING_INIT", v => options.RaiseOnErrorDuringInit = v);
        SetBool(read, errors, "COMET_MPM_DISABLED", v => options.Disabled = v);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static void SetString(Func<string, string?> read, string name, Action<string> set)
    {
        if (NonEmpty(read(name)) is { } value)
        {
            set(value);
        }
    }

    private static void SetInt(Func<string, string?> read, ICollection<string> errors, string[] names, Action<int> set)
    {
        foreach (var name in names)
        {
            if (NonEmpty(read(name)) is not { } raw)
            {
                continue;
            }

            if (int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0)
            {
                set(value);
            }
            else
            {
                errors.Add($"Environment variable {name} must be a positive whole number; it is '{raw}'. Fix or unset it.");
            }

            return;
        }
    }

    private static void SetBool(Func<string, string?> read, ICollection<string> errors, string name, Action<bool> set)
    {
        if (NonEmpty(read(name)) is not { } raw)
        {
            return;
        }

        // Unlike the Python SDK (where any non-empty value, "false" included, disables), the value is parsed.
        switch (raw.ToUpperInvariant())
        {
            case "1" or "TRUE" or "YES" or "ON":
                set(true);
                break;
            case "0" or "FALSE" or "NO" or "OFF":
                set(false);
                break;
            default:
                errors.Add($"Environment variable {name} must be true or false (also 1/0, yes/no, on/off); it is '{raw}'.");
                break;
        }
    }
}
