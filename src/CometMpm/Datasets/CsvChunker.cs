using System.Buffers;

namespace CometMpm.Datasets;

/// <summary>
/// Cuts a CSV file into pieces of about the chunk size, at line ends outside quoted fields, without
/// copying it: a piece is a byte range of the file. The boundaries are found lazily, one piece ahead
/// of the upload, by reading forward from the previous boundary (quotes are counted from there, since
/// a boundary is always the start of a record).
/// </summary>
internal static class CsvChunker
{
    private const int BufferSize = 256 * 1024;

    /// <summary>The byte ranges <c>[Start, End)</c> of the pieces; the first starts at 0 and includes the header.</summary>
    public static IEnumerable<(long Start, long End)> Pieces(string path, long headerLength, long chunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        var fileLength = stream.Length;
        var start = 0L;

        // The header is not counted in the size of the first piece, so every piece carries about chunkBytes of rows.
        var target = headerLength + chunkBytes;
        while (start < fileLength)
        {
            var end = target >= fileLength ? fileLength : FindEnd(stream, start, target, fileLength);
            yield return (start, end);
            start = end;
            target = start + chunkBytes;
        }
    }

    /// <summary>The first position after a <c>\n</c> at or past <paramref name="target"/> that is outside quotes; the file's end if none.</summary>
    internal static long FindEnd(FileStream stream, long start, long target, long fileLength)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            stream.Position = start;
            var position = start;
            var inQuotes = false;
            while (position < fileLength)
            {
                var n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, fileLength - position));
                if (n == 0)
                {
                    break;
                }

                var span = buffer.AsSpan(0, n);
                var skip = (int)Math.Clamp(target - position, 0, n);

                // Before the target only the quote parity matters: count quotes (vectorized) without looking at line ends.
                if ((span[..skip].Count((byte)'"') & 1) == 1)
                {
                    inQuotes = !inQuotes;
                }

                for (var i = skip; i < n; i++)
                {
                    var b = span[i];
                    if (b == (byte)'"')
                    {
                        inQuotes = !inQuotes;
                    }
                    else if (b == (byte)'\n' && !inQuotes)
                    {
                        return position + i + 1;
                    }
                }

                position += n;
            }

            return fileLength;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
