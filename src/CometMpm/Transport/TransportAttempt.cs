namespace CometMpm.Transport;

/// <summary>One logical request: a new message is built for every attempt, with the key and the user agent.</summary>
internal sealed class TransportAttempt(HttpClient client, HttpMethod method, Uri uri, string apiKey, ReadOnlyMemory<byte>? body)
{
    public Uri Uri => uri;

    /// <summary>How the last attempt failed to connect, when one did (a cancelled call then says why it kept retrying).</summary>
    public string? LastError { get; private set; }

    /// <summary>How many attempts were made (the first one included).</summary>
    public int Attempts { get; private set; }

    public async ValueTask<HttpResponseMessage> SendOnceAsync(CancellationToken cancellationToken)
    {
        Attempts++;
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.TryAddWithoutValidation("Authorization", apiKey);
        request.Headers.UserAgent.Add(MpmTransport.UserAgent);
        if (body is { } content)
        {
            request.Content = new ReadOnlyMemoryContent(content);
            request.Content.Headers.ContentType = MpmTransport.JsonContentType;
        }

        try
        {
            return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            LastError = $"{ex.HttpRequestError}: {ex.Message}";
            throw;
        }
    }
}
