using System.Globalization;
using System.Text;
using CometMpm.Emulator.Serialization;

namespace CometMpm.Emulator;

/// <summary>
/// A typed client of the emulator's inspection and fault APIs (<c>/api/emulator/*</c>).
/// </summary>
public sealed class MpmEmulatorClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttpClient;

    /// <summary>Creates a client; <paramref name="httpClient"/> must have its <see cref="HttpClient.BaseAddress"/> set to the emulator's root.</summary>
    /// <param name="httpClient">The HTTP client to use; it is not disposed by this client.</param>
    public MpmEmulatorClient(HttpClient httpClient)
        : this(httpClient, ownsHttpClient: false)
    {
    }

    internal MpmEmulatorClient(HttpClient httpClient, bool ownsHttpClient)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        _http = httpClient;
        _ownsHttpClient = ownsHttpClient;
    }

    /// <summary>Lists every workspace/model/version with its counts.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The models, ordered by workspace, model and version.</returns>
    public async Task<IReadOnlyList<EmulatorModelSummary>> GetModelsAsync(CancellationToken cancellationToken = default) =>
        await _http.GetFromJsonAsync("api/emulator/models", EmulatorJsonContext.Default.IReadOnlyListEmulatorModelSummary, cancellationToken).ConfigureAwait(false)
        ?? [];

    /// <summary>Reads stored predictions in arrival order.</summary>
    /// <param name="workspace">Only this workspace, when given.</param>
    /// <param name="model">Only this model, when given.</param>
    /// <param name="version">Only this version, when given.</param>
    /// <param name="limit">Page size (default 100 on the server, at most 10,000).</param>
    /// <param name="after">The cursor of the previous page (<see cref="EmulatorEventsPage.NextCursor"/>).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>One page of predictions.</returns>
    public async Task<EmulatorEventsPage> GetEventsAsync(
        string? workspace = null,
        string? model = null,
        string? version = null,
        int? limit = null,
        long? after = null,
        CancellationToken cancellationToken = default)
    {
        var query = new StringBuilder("api/emulator/events?");
        Append(query, "workspace", workspace);
        Append(query, "model", model);
        Append(query, "version", version);
        Append(query, "limit", limit?.ToString(CultureInfo.InvariantCulture));
        Append(query, "after", after?.ToString(CultureInfo.InvariantCulture));
        return await _http.GetFromJsonAsync(query.ToString(), EmulatorJsonContext.Default.EmulatorEventsPage, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("the emulator answered an empty events page");
    }

    /// <summary>Reads the last requests received on the ingestion endpoints, oldest first.</summary>
    /// <param name="limit">How many (default 100 on the server).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The requests, with the Authorization value masked.</returns>
    public async Task<IReadOnlyList<EmulatorRequestRecord>> GetRequestsAsync(int? limit = null, CancellationToken cancellationToken = default)
    {
        var path = limit is null ? "api/emulator/requests" : "api/emulator/requests?limit=" + limit.Value.ToString(CultureInfo.InvariantCulture);
        return await _http.GetFromJsonAsync(path, EmulatorJsonContext.Default.IReadOnlyListEmulatorRequestRecord, cancellationToken).ConfigureAwait(false)
            ?? [];
    }

    /// <summary>Deletes all stored data (predictions, labels, datasets) and the request log.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the store is empty.</returns>
    public async Task ClearAsync(CancellationToken cancellationToken = default)
    {
        using var response = await _http.DeleteAsync("api/emulator/data", cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Replaces the fault plan.</summary>
    /// <param name="plan">The faults to inject.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The plan as the emulator holds it.</returns>
    public async Task<EmulatorFaultState> SetFaultsAsync(EmulatorFaultPlan plan, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsJsonAsync("api/emulator/faults", plan, EmulatorJsonContext.Default.EmulatorFaultPlan, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync(EmulatorJsonContext.Default.EmulatorFaultState, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("the emulator answered an empty fault state");
    }

    /// <summary>Reads the fault plan and the counts of faults applied.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The current fault state.</returns>
    public async Task<EmulatorFaultState> GetFaultsAsync(CancellationToken cancellationToken = default) =>
        await _http.GetFromJsonAsync("api/emulator/faults", EmulatorJsonContext.Default.EmulatorFaultState, cancellationToken).ConfigureAwait(false)
        ?? throw new InvalidOperationException("the emulator answered an empty fault state");

    /// <summary>Removes every fault.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the plan is cleared.</returns>
    public async Task ClearFaultsAsync(CancellationToken cancellationToken = default)
    {
        using var response = await _http.DeleteAsync("api/emulator/faults", cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsHttpClient)
        {
            _http.Dispose();
        }
    }

    private static void Append(StringBuilder query, string name, string? value)
    {
        if (value is not null)
        {
            query.Append(name).Append('=').Append(Uri.EscapeDataString(value)).Append('&');
        }
    }
}
