using System.Text;
using System.Text.Json;

namespace CometMpm.Configuration;

/// <summary>
/// Derives the MPM base URL as the Python SDK does (protocol §2): the URL override, else the
/// <c>baseUrl</c> inside an API key of the form <c>key*base64(json)</c>, else https://www.comet.com/;
/// only scheme, host and port are kept, and the MPM base path is joined to them.
/// </summary>
internal sealed class ServerAddress
{
    internal static readonly Uri DefaultServer = new("https://www.comet.com/");

    private ServerAddress(Uri mpmBase, string? warning)
    {
        MpmBase = mpmBase;
        Warning = warning;
    }

    /// <summary>The MPM base URL, ending in '/', e.g. https://www.comet.com/mpm/.</summary>
    public Uri MpmBase { get; }

    /// <summary>A problem worth a warning (a key that cannot be parsed, or naming another server than the override).</summary>
    public string? Warning { get; }

    public Uri Resolve(string relative) => new(MpmBase, relative);

    internal static ServerAddress From(string? apiKey, Uri? urlOverride, string basePath)
    {
        var (keyBaseUrl, keyWarning) = ParseKeyBaseUrl(apiKey);
        string? warning = keyWarning;
        Uri server;
        if (urlOverride is not null)
        {
            // Unlike the Python SDK, an override is used even when the key cannot be parsed.
            server = urlOverride;
            if (keyBaseUrl is not null && Uri.Compare(Root(keyBaseUrl), Root(urlOverride), UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) != 0)
            {
                warning = $"The API key names the server {Root(keyBaseUrl)} but the URL override is {Root(urlOverride)}; the override is used.";
            }
        }
        else
        {
            server = keyBaseUrl ?? DefaultServer;
        }

        var path = string.IsNullOrWhiteSpace(basePath) ? "/mpm/" : basePath.Trim();
        if (!path.EndsWith('/'))
        {
            path += "/";
        }

        // The base path is absolute in the Python SDK, so any path in the server URL is dropped.
        if (!path.StartsWith('/'))
        {
            path = "/" + path;
        }

        return new ServerAddress(new Uri(Root(server), path), warning);
    }

    private static Uri Root(Uri uri) => new(uri.GetLeftPart(UriPartial.Authority) + "/");

    /// <summary>Reads the <c>baseUrl</c> from <c>key*base64(json)</c>; never reveals the key in the warning.</summary>
    internal static (Uri? BaseUrl, string? Warning) ParseKeyBaseUrl(string? apiKey)
    {
        if (string.IsNullOrEmpty(apiKey))
        {
            return (null, null);
        }

        var parts = apiKey.Split('*');
        if (parts.Length == 1)
        {
            return (null, null);
        }

        if (parts.Length > 2)
        {
            return (null, "The API key has more than one '*' and cannot be parsed; its embedded server address is ignored. Check that the key was copied whole.");
        }

        var suffix = parts[1];
        if (suffix.Length == 0)
        {
            return (null, "The API key ends in '*' with nothing after it; it is used as a plain key.");
        }

        // Padding repair as in the Python SDK: strip a wrong padding, then pad to a multiple of 4.
        if (suffix.Length % 4 != 0 && suffix.EndsWith('='))
        {
            suffix = suffix.TrimEnd('=');
        }

        suffix = suffix.PadRight(suffix.Length + ((4 - (suffix.Length % 4)) % 4), '=');
        try
        {
            var json = Encoding.UTF8.GetString(Convert.FromBase64String(suffix));
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("baseUrl", out var baseUrl)
                && baseUrl.ValueKind == JsonValueKind.String
                && Uri.TryCreate(baseUrl.GetString(), UriKind.Absolute, out var uri)
                && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            {
                return (uri, null);
            }

            return (null, "The API key's embedded settings carry no valid baseUrl; the default server is used.");
        }
        catch (Exception ex) when (ex is FormatException or JsonException or ArgumentException)
        {
            return (null, "The part of the API key after '*' is not base64-encoded JSON; its embedded server address is ignored.");
        }
    }
}
