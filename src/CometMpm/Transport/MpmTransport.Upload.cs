using System.Net.Http.Headers;
using CometMpm.Diagnostics;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Timeout;

namespace CometMpm.Transport;

/// <summary>The multipart CSV upload of protocol §10, through the same address, key and retry policy as the batches.</summary>
internal sealed partial class MpmTransport
{
    internal const string EventsCsvPath = "v2/data/events/csv";
    internal const string LabelsCsvPath = "v2/data/labels/csv";
    internal const string DatasetCsvPath = "v2/dataset/events/csv";
    private static readonly MediaTypeHeaderValue CsvContentType = new("text/csv");

    /// <summary>
    /// The upload's retry policy: the batch one (connection errors, 408, 429, 5xx, <c>Retry-After</c>) without the
    /// per-attempt timeout, since a 100 MiB chunk may take longer than a batch should (the Python SDK sets none either);
    /// the caller's cancellation token bounds it.
    /// </summary>
    private static ResiliencePipeline<HttpResponseMessage> BuildUploadPipeline(CometMpmOptions options, TimeProvider timeProvider, CometMpmMetrics metrics, ILogger logger) =>
        BuildPipeline(
            new CometMpmOptions
            {
                MaxRetryAttempts = options.MaxRetryAttempts,
                RetryBaseDelay = options.RetryBaseDelay,
                RetryMaxDelay = options.RetryMaxDelay,
                BatchSendingTimeout = TimeSpan.FromDays(1),
            },
            timeProvider,
            metrics,
            logger,
            retryStatuses: true);

    /// <summary>
    /// Posts one multipart request: the text <paramref name="fields"/> in order, then the <c>file</c> part made by
    /// <paramref name="fileContent"/> (called once per attempt). The response is read as text lines as they arrive,
    /// each passed to <paramref name="onLine"/> on success; on an error status the first KB of the body is the detail.
    /// </summary>
    public async Task<TransportResult> UploadMultipartAsync(
        string relativePath,
        IReadOnlyList<KeyValuePair<string, string>> fields,
        string fileName,
        Func<HttpContent> fileContent,
        Action<string> onLine,
        CancellationToken cancellationToken)
    {
        var client = _httpClientFactory.CreateClient(CometMpmOptions.HttpClientName);
        var uri = Address.Resolve(relativePath);
        var state = (Client: client, Uri: uri, Key: _apiKey, Fields: fields, FileName: fileName, File: fileContent);
        try
        {
            using var response = await _uploadPipeline.ExecuteAsync(
                static async (s, token) =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, s.Uri);
                    request.Headers.TryAddWithoutValidation("Authorization", s.Key);
                    request.Headers.UserAgent.Add(UserAgent);
                    request.Content = BuildMultipart(s.Fields, s.FileName, s.File());
                    return await s.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
                },
                state,
                cancellationToken).ConfigureAwait(false);
            var classified = await ClassifyAsync(response, uri, cancellationToken).ConfigureAwait(false);
            if (!classified.IsSuccess)
            {
                return classified;
            }

            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            using var reader = new StreamReader(body);
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (line.Length > 0)
                {
                    onLine(line);
                }
            }

            return classified;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (TimeoutRejectedException ex)
        {
            return new TransportResult(0, $"timed out after {ex.Timeout}");
        }
        catch (HttpRequestException ex)
        {
            return new TransportResult(0, $"{ex.HttpRequestError}: {ex.Message}");
        }
    }

    /// <summary>
    /// The multipart body of protocol §10.2: text parts with only a <c>Content-Disposition</c> (no content type),
    /// then <c>file</c> as <c>text/csv</c> with the file name.
    /// </summary>
    private static MultipartFormDataContent BuildMultipart(IReadOnlyList<KeyValuePair<string, string>> fields, string fileName, HttpContent file)
    {
        var multipart = new MultipartFormDataContent("cometmpm-" + Guid.NewGuid().ToString("N"));
        foreach (var (name, value) in fields)
        {
            var part = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(value));
            part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = Quote(name) };
            multipart.Add(part);
        }

        file.Headers.ContentType = CsvContentType;
        file.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = Quote("file"), FileName = Quote(fileName) };
        multipart.Add(file);
        return multipart;
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
