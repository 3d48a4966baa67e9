using System.Buffers;
using System.Net;

namespace CometMpm.Transport;

/// <summary>
/// Request content that streams a byte range of a file, optionally after a prefix (the CSV header of a
/// chunk), straight from disk: no temporary copy, one pooled buffer. Its length is known, so the request
/// carries a <c>Content-Length</c>. A new instance is made for every attempt.
/// </summary>
internal sealed class FileRangeContent(string path, ReadOnlyMemory<byte> prefix, long offset, long length, Action<long>? onBytesSent) : HttpContent
{
    private const int BufferSize = 128 * 1024;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (!prefix.IsEmpty)
        {
            await stream.WriteAsync(prefix, cancellationToken).ConfigureAwait(false);
            onBytesSent?.Invoke(prefix.Length);
        }

        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (file.ConfigureAwait(false))
        {
            file.Position = offset;
            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                var remaining = length;
                while (remaining > 0)
                {
                    var n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new IOException($"The file '{path}' became shorter during the upload; do not change a file while it is uploaded.");
                    }

                    await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    remaining -= n;
                    onBytesSent?.Invoke(n);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    protected override bool TryComputeLength(out long length1)
    {
        length1 = prefix.Length + length;
        return true;
    }
}
