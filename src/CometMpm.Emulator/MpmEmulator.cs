using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace CometMpm.Emulator;

/// <summary>
/// An in-process emulator for tests: Kestrel on 127.0.0.1 with a free port.
/// <code>await using var emulator = await MpmEmulator.StartAsync();</code>
/// </summary>
public sealed class MpmEmulator : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MpmEmulator(WebApplication app, Uri baseUrl, MpmEmulatorOptions options)
    {
        _app = app;
        Options = options;
        BaseUrl = baseUrl;
        MpmBaseUrl = new Uri(baseUrl, options.NormalizedBasePath);
        Client = new MpmEmulatorClient(new HttpClient { BaseAddress = baseUrl }, ownsHttpClient: true);
    }

    /// <summary>The server root, e.g. <c>http://127.0.0.1:41234/</c>: the value for <c>COMET_URL_OVERRIDE</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The MPM base of the ingestion endpoints, e.g. <c>http://127.0.0.1:41234/mpm/</c>.</summary>
    public Uri MpmBaseUrl { get; }

    /// <summary>A client of the inspection and fault APIs.</summary>
    public MpmEmulatorClient Client { get; }

    /// <summary>The options the emulator runs with.</summary>
    public MpmEmulatorOptions Options { get; }

    /// <summary>Starts an emulator on 127.0.0.1 with a free port.</summary>
    /// <param name="options">Settings; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running emulator; dispose it to stop it.</returns>
    public static async Task<MpmEmulator> StartAsync(MpmEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MpmEmulatorOptions();
        var app = EmulatorApp.Build(["--urls", "http://127.0.0.1:0"], options, quiet: true);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = EmulatorApp.Addresses(app).First();
            return new MpmEmulator(app, new Uri(address.TrimEnd('/') + "/"), options);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops the server and releases the store (a file database is closed, an in-memory one dropped).</summary>
    /// <returns>A task that completes when the emulator has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The app's services, for the tests' look at how it was built (its environment, its options).</summary>
    internal IServiceProvider Services => _app.Services;

    internal static IEnumerable<string> ServerAddresses(IServer server) =>
        server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
}
