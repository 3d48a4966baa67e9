using System.Text;

namespace CometMpm.Csv;

/// <summary>
/// The one CSV record reader of the client library (and so of the CLI, which uses the library's) and of the emulator:
/// linked as source into both (the emulator must not reference the client), so every reader agrees on every file.
/// RFC 4180 records: a field in double quotes may hold commas, line breaks and <c>""</c> (one quote); LF, CRLF or CR
/// end a record. Reads one buffer at a time, never the whole input, synchronously or asynchronously.
/// </summary>
/// <remarks>
/// A quote opens a quoted field only as the field's first character; elsewhere it is text, as spreadsheets write it.
/// A quoted field still open at the end of the input is a <see cref="CsvFormatException"/> naming the line the record
/// starts on: the file was cut or a quote is missing, and guessing where the field ends would store wrong values.
/// </remarks>
internal sealed class CsvRecordReader(TextReader reader, int bufferSize = 64 * 1024)
{
    private static readonly System.Buffers.SearchValues<char> Unquoted = System.Buffers.SearchValues.Create(",\"\r\n");
    private static readonly System.Buffers.SearchValues<char> Quoted = System.Buffers.SearchValues.Create("\"\r\n");

    private readonly char[] _buffer = new char[bufferSize];
    private readonly StringBuilder _field = new();
    private int _position;
    private int _length;
    private bool _end;
    private long _line = 1;
    private bool _lastWasCr;
    private bool _swallowLf;
    private bool _started;
    private bool _inQuotes;
    private bool _quoteInQuotes;

    private enum Step
    {
        NeedMore,
        Record,
        End,
    }

    /// <summary>The line (1-based) the last record read starts on.</summary>
    public long RecordLine { get; private set; }

    /// <summary>The number of records read so far.</summary>
    public long Records { get; private set; }

    /// <summary>Reads the next record into <paramref name="fields"/>; false at the end of the input.</summary>
    /// <exception cref="CsvFormatException">A quoted field is not closed before the end of the input.</exception>
    public bool Read(List<string> fields)
    {
        Begin(fields);
        while (true)
        {
            var step = Scan(fields);
            if (step != Step.NeedMore)
            {
                return step == Step.Record;
            }

            Filled(reader.Read(_buffer, 0, _buffer.Length));
        }
    }

    /// <summary>Reads the next record into <paramref name="fields"/>; false at the end of the input.</summary>
    /// <exception cref="CsvFormatException">A quoted field is not closed before the end of the input.</exception>
    public async ValueTask<bool> ReadAsync(List<string> fields, CancellationToken cancellationToken)
    {
        Begin(fields);
        while (true)
        {
            var step = Scan(fields);
            if (step != Step.NeedMore)
            {
                return step == Step.Record;
            }

            Filled(await reader.ReadAsync(_buffer.AsMemory(), cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>The fields of one line of text (a header), by the same rules.</summary>
    public static List<string> SplitLine(string line)
    {
        using var text = new StringReader(line);
        var fields = new List<string>();
        return new CsvRecordReader(text, Math.Max(16, line.Length)).Read(fields) ? fields : [string.Empty];
    }

    private void Begin(List<string> fields)
    {
        fields.Clear();
        _field.Clear();
        _started = false;
        _inQuotes = false;
        _quoteInQuotes = false;
    }

    private void Filled(int read)
    {
        _position = 0;
        _length = read;
        _end = read == 0;
    }

    /// <summary>Reads from the buffer until a record ends or the buffer is used up; the state survives a refill.</summary>
    private Step Scan(List<string> fields)
    {
        while (_position < _length)
        {
            // A run of ordinary characters is copied at once: most of a file is.
            if (!_swallowLf && !_quoteInQuotes)
            {
                var rest = _buffer.AsSpan(_position, _length - _position);
                var run = _inQuotes ? rest.IndexOfAny(Quoted) : rest.IndexOfAny(Unquoted);
                run = run < 0 ? rest.Length : run;
                if (run > 0)
                {
                    StartRecord();
                    _field.Append(rest[..run]);
                    _position += run;
                    _lastWasCr = false;
                    continue;
                }
            }

            var c = _buffer[_position++];
            if (_swallowLf)
            {
                // The LF of a CRLF that ended the previous record: its line was counted at the CR.
                _swallowLf = false;
                if (c == '\n')
                {
                    _lastWasCr = false;
                    continue;
                }
            }

            StartRecord();
            if (c == '\r' || (c == '\n' && !_lastWasCr))
            {
                _line++;
            }

            _lastWasCr = c == '\r';
            if (_inQuotes)
            {
                if (_quoteInQuotes)
                {
                    _quoteInQuotes = false;
                    if (c == '"')
                    {
                        _field.Append('"');
                        continue;
                    }

                    _inQuotes = false; // that quote closed the field: c is read as unquoted below
                }
                else
                {
                    if (c == '"')
                    {
                        _quoteInQuotes = true;
                    }
                    else
                    {
                        _field.Append(c);
                    }

                    continue;
                }
            }

            switch (c)
            {
                case ',':
                    fields.Add(_field.ToString());
                    _field.Clear();
                    break;
                case '"' when _field.Length == 0:
                    _inQuotes = true;
                    break;
                case '\n':
                    return EndRecord(fields);
                case '\r':
                    _swallowLf = true;
                    return EndRecord(fields);
                default:
                    _field.Append(c);
                    break;
            }
        }

        if (!_end)
        {
            return Step.NeedMore;
        }

        if (!_started)
        {
            return Step.End;
        }

        if (_inQuotes && !_quoteInQuotes)
        {
            throw new CsvFormatException(RecordLine);
        }

        return EndRecord(fields);
    }

    private void StartRecord()
    {
        if (!_started)
        {
            _started = true;
            RecordLine = _line;
        }
    }

    private Step EndRecord(List<string> fields)
    {
        fields.Add(_field.ToString());
        _field.Clear();
        _started = false;
        Records++;
        return Step.Record;
    }
}

/// <summary>A CSV record that cannot be read: a quoted field is not closed before the end of the input.</summary>
internal sealed class CsvFormatException(long line) : FormatException($"line {line}: {UnclosedQuote}")
{
    /// <summary>What is wrong, without the line: for callers that print the line their own way.</summary>
    public const string UnclosedQuote = "a quoted field opened in this record is not closed before the end of the file (a missing \")";

    /// <summary>The line (1-based) the record starts on.</summary>
    public long Line { get; } = line;
}
