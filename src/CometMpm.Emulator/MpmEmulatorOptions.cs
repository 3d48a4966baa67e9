namespace CometMpm.Emulator;

/// <summary>
/// Settings of the emulator. <see cref="MpmEmulator.StartAsync"/> uses exactly these (never the host's configuration);
/// the <c>comet-mpm-emulator</c> tool binds them from its configuration section <c>Emulator</c> and the switches
/// <c>--db</c> and <c>--base-path</c>.
/// </summary>
public sealed class MpmEmulatorOptions
{
    /// <summary>The configuration section the tool binds.</summary>
    internal const string SectionName = "Emulator";

    /// <summary>The MPM base path of the ingestion endpoints, like <c>COMET_MPM_BASE_PATH</c> (default <c>/mpm/</c>).</summary>
    public string BasePath { get; set; } = "/mpm/";

    /// <summary>The accepted API keys. Empty (the default): any non-empty <c>Authorization</c> value is accepted.</summary>
    public IList<string> ApiKeys { get; } = new List<string>();

    /// <summary>
    /// When <see langword="true"/>, a batch with any invalid event stores nothing (as with <c>?enforceValidation=true</c>).
    /// Default <see langword="false"/>: valid events are stored and the invalid ones reported.
    /// </summary>
    public bool RejectWholeBatch { get; set; }

    /// <summary>A SQLite file to store data in, so it survives a restart. <see langword="null"/> (default): in memory.</summary>
    public string? Db { get; set; }

    /// <summary>How many requests the request log keeps (default 500).</summary>
    public int RequestLogCapacity { get; set; } = 500;

    /// <summary>A CSV upload writes a progress line every this many rows (default 100,000).</summary>
    public int CsvProgressEvery { get; set; } = 100_000;

    /// <summary>The base path with a leading and a trailing slash.</summary>
    internal string NormalizedBasePath
    {
        get
        {
            var path = string.IsNullOrWhiteSpace(BasePath) ? "/" : BasePath.Trim();
            if (!path.StartsWith('/'))
            {
                path = "/" + path;
            }

            return path.EndsWith('/') ? path : path + "/";
        }
    }
}
