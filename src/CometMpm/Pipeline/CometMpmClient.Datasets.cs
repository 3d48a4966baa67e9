using System.Diagnostics;
using System.Globalization;
using CometMpm.Datasets;
using CometMpm.Diagnostics;
using CometMpm.Transport;

namespace CometMpm.Pipeline;

/// <summary>Dataset upload (protocol §10) and the queue backpressure row logging relies on.</summary>
internal sealed partial class CometMpmClient
{
    private const int MaxServerMessages = 1000;

    public Task<DatasetUploadResult> UploadDatasetCsvAsync(
        string filePath,
        DatasetType datasetType,
        string? datasetName = null,
        string? naValues = null,
        bool? keepDefaultNaValues = null,
        IProgress<string>? progress = null,
        CancellationToken cancellationToken = default) =>
        UploadDatasetCsvAsync(filePath, datasetType, datasetName, naValues, keepDefaultNaValues, progress, bytesSent: null, cancellationToken);

    /// <summary>The upload, with a callback for the bytes sent so far (the command-line tool's progress bar).</summary>
    internal async Task<DatasetUploadResult> UploadDatasetCsvAsync(
        string filePath,
        DatasetType datasetType,
        string? datasetName,
        string? naValues,
        bool? keepDefaultNaValues,
        IProgress<string>? progress,
        Action<long>? bytesSent,
        CancellationToken cancellationToken)
    {
        var (relativePath, fields) = DatasetUploadRequest.Prepare(_model, filePath, datasetType, datasetName, naValues, keepDefaultNaValues);

        // Only the first line is read here: a bad header fails before any byte is sent.
        var header = CsvHeader.ReadAndValidate(filePath, datasetType);
        var fileLength = new FileInfo(filePath).Length;
        var chunkBytes = _options.CsvChunkSizeMb * 1024L * 1024L;
        var chunked = fileLength - header.Length > chunkBytes;
        var url = _transport.Address.Resolve(relativePath);
        Log.CsvUploadStarting(_logger, filePath, fileLength, CsvHeader.Wire(datasetType), chunked ? "several" : "1", url);

        var started = Stopwatch.GetTimestamp();
        var messages = new Queue<string>();
        var requests = 0;
        long sent = 0;
        void OnBytes(long n)
        {
            sent += n;
            bytesSent?.Invoke(n);
        }

        void OnLine(string line)
        {
            Log.CsvUploadLine(_logger, line);
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
            var result = await _transport.UploadMultipartAsync(
                relativePath,
                fields,
                filePath,
                () =>
                {
                    // A retried attempt sends the piece again: count only the bytes of the attempt that succeeds.
                    sent = sentBefore;
                    return new FileRangeContent(filePath, prefix, start, end - start, OnBytes);
                },
                OnLine,
                cancellationToken).ConfigureAwait(false);
            if (!result.IsSuccess)
            {
                var where = chunked ? string.Create(CultureInfo.InvariantCulture, $" (request {requests}, bytes {start}..{end} of the file; the earlier requests were accepted)") : "";
                var message = result.StatusCode == 0
                    ? $"Could not upload '{filePath}' to {url}{where}: {result.Detail}. Check CometMpm:UrlOverride (COMET_URL_OVERRIDE) and the network."
                    : $"The MPM backend refused the upload of '{filePath}' to {url}{where}: {result.Detail}";
                Log.CsvUploadFailed(_logger, filePath, message);
                throw result.StatusCode == 0
                    ? new CometMpmBackendNotAvailableException(message)
                    : new CometMpmBackendException(message) { StatusCode = result.StatusCode };
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        Log.CsvUploadFinished(_logger, filePath, elapsed.TotalSeconds, requests, sent);
        return new DatasetUploadResult(
            Uploaded: true,
            datasetType,
            requests,
            sent,
            [.. messages],
            elapsed,
            string.Create(CultureInfo.InvariantCulture, $"Uploaded '{filePath}' ({sent} bytes in {requests} request(s)) as {CsvHeader.Wire(datasetType)} in {elapsed.TotalSeconds:F2} seconds."));
    }

    /// <summary>
    /// Waits until the queue has room for one more event, so that row logging applies backpressure instead of
    /// dropping. It asks the sender to send at once (not at the batch time) and waits on its progress, at most
    /// <paramref name="maxWait"/> without any event leaving the queue.
    /// </summary>
    /// <returns>False when the queue stayed full for <paramref name="maxWait"/> (the backend is stalled).</returns>
    internal async ValueTask<bool> WaitForQueueSpaceAsync(TimeSpan maxWait, CancellationToken cancellationToken)
    {
        if (HasQueueRoom() || Volatile.Read(ref _state) != Running)
        {
            return true;
        }

        _ = EnsureStarted();
        while (true)
        {
            var progressed = _queue.Progress.WaitTask;
            _sender.RequestFlush(_queue.Accepted);
            if (HasQueueRoom() || Volatile.Read(ref _state) != Running)
            {
                return true;
            }

            try
            {
                await progressed.WaitAsync(maxWait, _timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                if (HasQueueRoom())
                {
                    return true;
                }

                Log.RowLoggingQueueStalled(_logger, maxWait, _options.FullQueuePolicy);
                return false;
            }
        }
    }

    /// <summary>Room for one more event: under both bounds of the queue, the count and the approximate bytes
    /// (an event bigger than the rest of the byte budget may still wait briefly, then falls to the policy).</summary>
    private bool HasQueueRoom() => _queue.Count < _queue.Capacity && _queue.Bytes < _options.MaxQueueBytes;

    /// <summary>One <c>GET isAlive/ping</c> through the transport, bounded by <see cref="CometMpmOptions.PingTimeout"/> (the command-line <c>ping</c>).</summary>
    internal async Task<TransportResult> PingBackendAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PingTimeout);
        var result = await _transport.PingAsync(timeout.Token).ConfigureAwait(false);
        return result.Cancelled && !cancellationToken.IsCancellationRequested
            ? new TransportResult(0, $"no answer within {_options.PingTimeout}")
            : result;
    }
}
