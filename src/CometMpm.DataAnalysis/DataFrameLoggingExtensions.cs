using Microsoft.Data.Analysis;

namespace CometMpm;

/// <summary>Logs the rows of a Microsoft.Data.Analysis <see cref="DataFrame"/>, as the Python <c>log_dataframe</c> logs a pandas one.</summary>
public static class DataFrameLoggingExtensions
{
    /// <summary>
    /// Logs each row of <paramref name="dataFrame"/> as a prediction event, the columns chosen by <paramref name="columns"/>
    /// and their names used unchanged. Null cells and NaN are missing values (sent as null). Rows are read one at a time
    /// straight from the columns; when the client's queue is full, logging waits for room (see <see cref="RowLoggingOptions"/>).
    /// </summary>
    /// <param name="mpm">The client.</param>
    /// <param name="dataFrame">The data frame.</param>
    /// <param name="columns">The column names, with the arguments of the Python <c>log_dataframe</c>.</param>
    /// <param name="options">Limits; defaults when null.</param>
    /// <param name="cancellationToken">Stops logging; rows already logged stay queued.</param>
    /// <returns>How many rows were logged, rejected (with the first reasons and row numbers, 1 for the first row) and dropped.</returns>
    /// <exception cref="ArgumentException">A named column is not in the data frame.</exception>
    public static Task<RowLoggingResult> LogDataFrameAsync(
        this ICometMpm mpm,
        DataFrame dataFrame,
        RowColumns columns,
        RowLoggingOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mpm);
        ArgumentNullException.ThrowIfNull(dataFrame);
        ArgumentNullException.ThrowIfNull(columns);

        Func<long, object?> Column(string name)
        {
            var index = dataFrame.Columns.IndexOf(name);
            if (index < 0)
            {
                var available = string.Join(", ", dataFrame.Columns.Select(c => c.Name));
                throw new ArgumentException($"The data frame has no column '{name}' (it has: {available}).", nameof(columns));
            }

            var column = dataFrame.Columns[index];
            return row => column[row];
        }

        var mapping = RowMapping<long>.FromColumns(columns, Column);
        return mpm.LogRowsAsync(RowIndexes(dataFrame.Rows.Count), mapping, options, cancellationToken);
    }

    private static IEnumerable<long> RowIndexes(long count)
    {
        for (long i = 0; i < count; i++)
        {
            yield return i;
        }
    }
}
