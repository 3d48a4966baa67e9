using System.Collections.Concurrent;
using CometMpm.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CometMpm.AspNetCore.Capture;

/// <summary>A capture setting that cannot work (an unknown client name, capture not registered): found at start.</summary>
internal sealed class CaptureSetupException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>
/// The setup problems capture met while routing built its endpoints. Capture never throws there (an endpoint with a
/// problem is served without capture, and the problem is logged); the start-up check reads them and fails start.
/// </summary>
internal sealed class CaptureProblems
{
    private readonly ConcurrentDictionary<string, byte> _problems = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> All => [.. _problems.Keys];

    public void Report(string problem) => _problems.TryAdd(problem, 0);
}

/// <summary>Resolves the client a capture setting names, or says which names exist.</summary>
internal static class CaptureClients
{
    public static ICometMpm Resolve(IServiceProvider services, string? model, string where)
    {
        var client = model is null ? services.GetService<ICometMpm>() : services.GetKeyedService<ICometMpm>(model);
        if (client is not null)
        {
            return client;
        }

        var registered = services.GetServices<CometMpmRegistration>().Select(r => r.Name.Length == 0 ? "the default client" : $"'{r.Name}'").Distinct().ToList();
        var names = registered.Count == 0 ? "none" : string.Join(", ", registered);
        throw new CaptureSetupException(model is null
            ? $"Comet MPM capture of {where} needs the default client, but it is not registered (registered: {names}). Call services.AddCometMpm()."
            : $"Comet MPM capture of {where} names the model '{model}', but no client has that name (registered: {names}). Register it with services.AddCometMpm(\"{model}\", ...) or correct the name.");
    }
}

/// <summary>
/// The sample rates the captured endpoints use, per client: a labels endpoint given no rate samples like the endpoints
/// of the client it labels (when they agree on one rate), so the labels of predictions left out are not sent either.
/// </summary>
internal sealed class CaptureSampleRates
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<double, byte>> _rates = new(StringComparer.Ordinal);

    public void Record(string? model, double rate) => _rates.GetOrAdd(model ?? "", _ => new()).TryAdd(rate, 0);

    /// <summary>The one rate the client's captured endpoints use; null when none is known or they differ.</summary>
    public double? For(string? model) => _rates.TryGetValue(model ?? "", out var rates) && rates.Count == 1 ? rates.Keys.First() : null;
}
