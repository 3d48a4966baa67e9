namespace CometMpm.AspNetCore.Capture;

/// <summary>The effective settings of one captured endpoint: global options, then group and endpoint layers, then the attribute.</summary>
internal sealed class CaptureSettings
{
    private readonly string[]? _include;
    private readonly string[] _exclude;

    private CaptureSettings(string? model, double sampleRate, bool captureFailed, string[]? include, string[] exclude, CometMpmAspNetCoreOptions global)
    {
        Model = model;
        SampleRate = sampleRate;
        CaptureFailedResponses = captureFailed;
        _include = include;
        _exclude = exclude;
        PredictionIdHeader = global.PredictionIdHeader;
        MaxPredictionIdLength = global.MaxPredictionIdLength;
        StatusCodeFeatureName = global.StatusCodeFeatureName;
        ScalarOutputFeatureName = global.ScalarOutputFeatureName;
        TraceIdFeatureName = global.SendTraceId ? global.TraceIdFeatureName : null;
    }

    /// <summary>The input feature the request's trace id is sent as, or null when it is not sent.</summary>
    public string? TraceIdFeatureName { get; }

    public string? Model { get; }

    public double SampleRate { get; }

    public bool CaptureFailedResponses { get; }

    public string PredictionIdHeader { get; }

    public int MaxPredictionIdLength { get; }

    public string StatusCodeFeatureName { get; }

    public string ScalarOutputFeatureName { get; }

    public bool FiltersNames => _include is not null || _exclude.Length > 0;

    public static CaptureSettings Create(CometMpmAspNetCoreOptions global, IEnumerable<CometMpmEndpointOptions> layers)
    {
        var model = global.Model;
        var rate = global.SampleRate;
        var captureFailed = global.CaptureFailedResponses;
        string[]? include = global.IncludeFeatures.Count > 0 ? [.. global.IncludeFeatures] : null;
        var exclude = new List<string>(global.ExcludeFeatures);
        foreach (var layer in layers)
        {
            model = layer.Model ?? model;
            rate = layer.SampleRate ?? rate;
            captureFailed = layer.CaptureFailedResponses ?? captureFailed;
            if (layer.IncludeFeatures is not null)
            {
                include = [.. layer.IncludeFeatures];
            }

            if (layer.ExcludeFeatures is not null)
            {
                exclude.AddRange(layer.ExcludeFeatures);
            }
        }

        if (!(rate >= 0 && rate <= 1))
        {
            throw new InvalidOperationException($"The Comet MPM sample rate is {rate} but must be between 0 (capture nothing) and 1 (capture everything).");
        }

        return new CaptureSettings(model, rate, captureFailed, include, [.. exclude.Distinct(StringComparer.Ordinal)], global);
    }

    /// <summary>Whether a feature name passes the allow- and deny-lists; a list entry also covers the names nested under it.</summary>
    public bool IsAllowed(string name)
    {
        foreach (var pattern in _exclude)
        {
            if (Covers(pattern, name))
            {
                return false;
            }
        }

        if (_include is null)
        {
            return true;
        }

        foreach (var pattern in _include)
        {
            if (Covers(pattern, name))
            {
                return true;
            }
        }

        return false;
    }

    public FeatureAccessor[] Filter(FeatureAccessor[] accessors)
    {
        if (!FiltersNames)
        {
            return accessors;
        }

        var kept = Array.FindAll(accessors, a => IsAllowed(a.Name));
        return kept.Length == accessors.Length ? accessors : kept;
    }

    private static bool Covers(string pattern, string name) =>
        name.StartsWith(pattern, StringComparison.Ordinal)
        && (name.Length == pattern.Length || name[pattern.Length] == '.');
}
