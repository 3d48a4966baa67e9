using System.Data;
using CometMpm.Datasets;

namespace CometMpm;

/// <summary>
/// Row logging, the .NET form of the Python <c>log_dataframe</c>: each row becomes one prediction event. Rows are read
/// one at a time and queued, so an input of any size streams (1,000,000 rows are never held together). When the
/// client's queue is full, logging waits for room rather than dropping (see <see cref="RowLoggingOptions.MaxQueueWait"/>).
/// Call <see cref="ICometMpm.FlushAsync"/> afterwards to wait until the rows are delivered.
/// </summary>
public static class RowLoggingExtensions
{
    /// <summary>Logs each object as a prediction event, mapped by <paramref name="mapping"/>.</summary>
    /// <typeparam name="T">The row type.</typeparam>
    /// <param name="mpm">The client.</param>
    /// <param name="rows">The rows; enumerated once, lazily.</param>
    /// <param name="mapping">Which values become the id, features, outputs, labels and timestamp.</param>
    /// <param name="options">Limits; defaults when null.</param>
    /// <param name="cancellationToken">Stops reading rows; those already logged stay queued.</param>
    /// <returns>How many rows were logged, rejected (with the first reasons and row numbers) and dropped.</returns>
    public static Task<RowLoggingResult> LogRowsAsync<T>(
        this ICometMpm mpm,
        IEnumerable<T> rows,
        RowMapping<T> mapping,
        RowLoggingOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mpm);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(mapping);
        return RowLogger.RunAsync(mpm, rows, mapping, options ?? new RowLoggingOptions(), cancellationToken);
    }

    /// <summary>Logs each object as a prediction event; the columns are the public properties named in <paramref name="columns"/>.</summary>
    /// <typeparam name="T">The row type.</typeparam>
    /// <param name="mpm">The client.</param>
    /// <param name="rows">The rows; enumerated once, lazily.</param>
    /// <param name="columns">The property names, with the arguments of the Python <c>log_dataframe</c>.</param>
    /// <param name="options">Limits; defaults when null.</param>
    /// <param name="cancellationToken">Stops reading rows.</param>
    /// <returns>How many rows were logged, rejected and dropped.</returns>
    public static Task<RowLoggingResult> LogRowsAsync<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties)] T>(
        this ICometMpm mpm,
        IEnumerable<T> rows,
        RowColumns columns,
        RowLoggingOptions? options = null,
        CancellationToken cancellationToken = default) =>
        LogRowsAsync(mpm, rows, RowMapping<T>.FromColumns(columns), options, cancellationToken);

    /// <summary>
    /// Logs each record of a data reader (a database query, a CSV reader) as a prediction event. The reader is read to
    /// its end (not closed); only the current record is held. <see cref="DBNull"/> cells are missing values.
    /// </summary>
    /// <param name="mpm">The client.</param>
    /// <param name="reader">The reader, positioned before its first record.</param>
    /// <param name="columns">The column names, with the arguments of the Python <c>log_dataframe</c>.</param>
    /// <param name="options">Limits; defaults when null.</param>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <returns>How many rows were logged, rejected and dropped.</returns>
    /// <exception cref="ArgumentException">A named column is not in the reader.</exception>
    public static Task<RowLoggingResult> LogRowsAsync(
        this ICometMpm mpm,
        IDataReader reader,
        RowColumns columns,
        RowLoggingOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(columns);
        int Ordinal(string name)
        {
            for (var i = 0; i < reader.FieldCount; i++)
            {
                if (string.Equals(reader.GetName(i), name, StringComparison.Ordinal))
                {
                    return i;
                }
            }

            var available = string.Join(", ", Enumerable.Range(0, reader.FieldCount).Select(reader.GetName));
            throw new ArgumentException($"The reader has no column '{name}' (it has: {available}).", nameof(columns));
        }

        Func<IDataRecord, object?> Column(string name)
        {
            var ordinal = Ordinal(name);
            return record => record.GetValue(ordinal);
        }

        var mapping = RowMapping<IDataRecord>.FromColumns(columns, Column);
        return LogRowsAsync(mpm, Records(reader), mapping, options, cancellationToken);
    }

    private static IEnumerable<IDataRecord> Records(IDataReader reader)
    {
        while (reader.Read())
        {
            yield return reader;
        }
    }
}
