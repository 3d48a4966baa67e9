using System.Globalization;
using System.Text.RegularExpressions;

namespace CometMpm.Cli;

/// <summary>
/// What the server said it stored, from its progress lines: a <c>done: R rows, S stored, D duplicates ignored, I invalid</c>
/// line per request (summed over the chunks of a large file) and <c>error: ...</c> lines. A server that sends no such
/// lines is taken at its word (a success status); one that reports invalid rows or an error makes the upload partial.
/// </summary>
internal sealed partial class UploadSummary
{
    private long _rows;
    private long _stored;
    private long _invalid;
    private int _errors;
    private string? _firstError;

    public void Add(string line)
    {
        if (line.StartsWith("error:", StringComparison.Ordinal))
        {
            _errors++;
            _firstError ??= line["error:".Length..].Trim();
            return;
        }

        var done = Done().Match(line);
        if (done.Success)
        {
            _rows += long.Parse(done.Groups["rows"].ValueSpan, CultureInfo.InvariantCulture);
            _stored += long.Parse(done.Groups["stored"].ValueSpan, CultureInfo.InvariantCulture);
            _invalid += long.Parse(done.Groups["invalid"].ValueSpan, CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Why not every row was stored, or null when the server reported no problem.</summary>
    public string? Problem()
    {
        if (_invalid == 0 && _errors == 0)
        {
            return null;
        }

        var counts = string.Create(CultureInfo.InvariantCulture, $"the server stored {_stored} of {_rows} rows, {_invalid} invalid");
        return _firstError is null
            ? counts + " (see the 'server:' lines above)."
            : $"{counts}; it said: {_firstError}";
    }

    [GeneratedRegex(@"^done: (?<rows>\d+) rows, (?<stored>\d+) (?:labels )?stored, \d+ duplicates ignored, (?<invalid>\d+) invalid")]
    private static partial Regex Done();
}
