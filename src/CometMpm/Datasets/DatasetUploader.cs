using System.Diagnostics;
using System.Globalization;
using CometMpm.Delivery;
using CometMpm.Diagnostics;
using CometMpm.Events;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Datasets;

/// <summary>
/// Dataset upload (protocol §10): a multipart POST streamed from disk through the client's transport. It waits for the
/// start-up check and refuses to send when the check disabled the client or the key was refused.
/// </summary>
internal sealed class DatasetUploader(MpmTransport transport, StartupCheck startupCheck, ModelIdentity model, CometMpmOptions options, ILogger logger)
{
    private const int MaxServerMessages = 1000;

    /// <summary>The upload, with a callback for the bytes sent so far (the command-line tool's progress bar).</summary>
    public async Task<DatasetUploadResult> UploadAsync(
        string filePath,
        DatasetType datasetType,
        string? datasetName,
        string? naValues,
        bool? keepDefaultNaValues,
        IProgress<string>? progress,
        Action<long>? bytesSent,
        CancellationToken cancellationToken)
    {
        var (relativePath, fields) = DatasetUploadRequest.Prepare(model, filePath, datasetType, datasetName, naValues, keepDefaultNaValues);

        // Only the first line is read here: a bad header fails before any byte is sent.
        var header = CsvHeader.ReadAndValidate(filePath, datasetType);

        // The start-up check decides whether the client may send at all: wait for it, and honour what it decided.
        await startupCheck.Completed.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (transport.Gate.Closed() is { } closed && !transport.Gate.IsCircuitOpen)
        {
            var refusal = $"'{filePath}' was not uploaded: {closed}. See GetLoggingErrors() and the log for the reason.";
            Log.CsvUploadFailed(logger, filePath, refusal);
            throw new CometMpmException(refusal);
        }

        var fileLength = new FileInfo(filePath).Length;
        var chunkBytes = options.CsvChunkSizeMb * 1024L * 1024L;
        var chunked = fileLength - header.Length > chunkBytes;
        var url = transport.Address.Resolve(relativePath);
        Log.CsvUploadStarting(logger, filePath, fileLength, CsvHeader.Wire(datasetType), chunked ? "several" : "1", url);

        using var activity = CometMpmTracing.StartOperation(CometMpmTracing.UploadSpan, transport.Metrics);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("cometmpm.upload.dataset_type", CsvHeader.Wire(datasetType));
            activity.SetTag("cometmpm.upload.file_bytes", fileLength);
            activity.SetTag("url.full", CometMpmTracing.Redacted(url));
        }

        var started = Stopwatch.GetTimestamp();
        var messages = new Queue<string>();
        var requests = 0;
        var lastStatus = 0;
        long sent = 0;
        void OnBytes(long n)
        {
            sent += n;
            bytesSent?.Invoke(n);
        }

        void OnLine(string line)
        {
            Log.CsvUploadLine(logger, line);
            if (messages.Count == MaxServerMessages)
            {
                messages.Dequeue();
            }

            messages.Enqueue(line);
            progress?.Report(line);
        }

        IEnumerable<(long Start, long End)> pieces = chunked ? CsvChunker.Pieces(filePath, header.Length, chunkBytes) : [(0, fileLength)];
        foreach (var (start, end) in pieces)
        {
            requests++;
            var prefix = start == 0 ? ReadOnlyMemory<byte>.Empty : header.Line;
            var sentBefore = sent;
            var result = await transport.UploadMultipartAsync(
                relativePath,
                fields,
                Path.GetFileName(filePath), // the name, not the local path (which may tell about the machine)
                () =>
                {
                    // A retried attempt sends the piece again: count only the bytes of the attempt that succeeds.
                    sent = sentBefore;
                    return new FileRangeContent(filePath, prefix, start, end - start, OnBytes);
                },
                OnLine,
                cancellationToken).ConfigureAwait(false);
            lastStatus = result.StatusCode;
            if (!result.IsSuccess)
            {
                var where = chunked ? string.Create(CultureInfo.InvariantCulture, $" (request {requests}, bytes {start}..{end} of the file; the earlier requests were accepted)") : "";
                var message = result.StatusCode == 0
                    ? $"Could not upload '{filePath}' to {url}{where}: {result.Detail}. Check CometMpm:UrlOverride (COMET_URL_OVERRIDE) and the network."
                    : $"The MPM backend refused the upload of '{filePath}' to {url}{where}: {result.Detail}";
                Log.CsvUploadFailed(logger, filePath, message);
                activity?.SetTag("cometmpm.upload.requests", requests);
                CometMpmTracing.SetOutcome(activity, result.StatusCode, result.ErrorType, message);
                throw result.StatusCode == 0
                    ? new CometMpmBackendNotAvailableException(message)
                    : new CometMpmBackendException(message) { StatusCode = result.StatusCode };
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        activity?.SetTag("cometmpm.upload.requests", requests);
        CometMpmTracing.SetOutcome(activity, lastStatus, null, null);
        Log.CsvUploadFinished(logger, filePath, elapsed.TotalSeconds, requests, sent);
        return new DatasetUploadResult(
            Uploaded: true,
            datasetType,
            requests,
            sent,
            [.. messages],
            elapsed,
            string.Create(CultureInfo.InvariantCulture, $"Uploaded '{filePath}' ({sent} bytes in {requests} request(s)) as {CsvHeader.Wire(datasetType)} in {elapsed.TotalSeconds:F2} seconds."));
    }
}
