using System.Text;

namespace CometMpm.Emulator.Datasets;

/// <summary>
/// Reads CSV records incrementally from a text reader (RFC 4180: quoted fields may hold commas,
/// doubled quotes and line breaks; LF, CRLF or CR end a record). Holds one buffer, never the file.
/// </summary>
internal sealed class CsvRecordReader(TextReader reader)
{
    private readonly char[] _buffer = new char[64 * 1024];
    private readonly StringBuilder _field = new();
    private int _position;
    private int _length;

    /// <summary>The number of records read so far.</summary>
    public long Records { get; private set; }

    /// <summary>Reads the next record into <paramref name="fields"/>; false at the end of the input.</summary>
    public async ValueTask<bool> ReadAsync(List<string> fields, CancellationToken cancellationToken)
    {
        fields.Clear();
        _field.Clear();
        var inQuotes = false;
        var started = false;
        while (true)
        {
            if (_position >= _length && !await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!started)
                {
                    return false;
                }

                if (inQuotes)
                {
                    throw new FormatException($"record {Records + 1}: a quoted field is not closed before the end of the file");
                }

                return EndRecord(fields);
            }

            started = true;
            var c = _buffer[_position++];
            if (inQuotes)
            {
                if (c != '"')
                {
                    // Copy the run of plain characters at once.
                    var end = Array.IndexOf(_buffer, '"', _position, _length - _position);
                    var stop = end < 0 ? _length : end;
                    _field.Append(c).Append(_buffer, _position, stop - _position);
                    _position = stop;
                    continue;
                }

                if (_position >= _length && !await FillAsync(cancellationToken).ConfigureAwait(false))
                {
                    inQuotes = false;
                    continue;
                }

                if (_buffer[_position] == '"')
                {
                    _field.Append('"');
                    _position++;
                }
                else
                {
                    inQuotes = false;
                }

                continue;
            }

            switch (c)
            {
                case ',':
                    fields.Add(_field.ToString());
                    _field.Clear();
                    break;
                case '"' when _field.Length == 0:
                    inQuotes = true;
                    break;
                case '\n':
                    return EndRecord(fields);
                case '\r':
                    if (_position >= _length)
                    {
                        await FillAsync(cancellationToken).ConfigureAwait(false);
                    }

                    if (_position < _length && _buffer[_position] == '\n')
                    {
                        _position++;
                    }

                    return EndRecord(fields);
                default:
                    _field.Append(c);
                    break;
            }
        }
    }

    private bool EndRecord(List<string> fields)
    {
        fields.Add(_field.ToString());
        _field.Clear();
        Records++;
        return true;
    }

    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        _length = await reader.ReadAsync(_buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
        _position = 0;
        return _length > 0;
    }
}
