using Microsoft.Extensions.Logging;

namespace CometMpm.Diagnostics;

/// <summary>
/// The client's logger: a logging provider that fails (Microsoft.Extensions.Logging rethrows its exception as an
/// <see cref="AggregateException"/> once every provider had its turn) must not fail a logging call, kill a background
/// loop from inside its own error handler, or leave a batch half settled. What could not be logged is lost; the
/// ledger, the metrics and <c>GetLoggingErrors()</c> still count it.
/// </summary>
internal sealed class NonThrowingLogger(ILogger inner) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
    {
        try
        {
            return inner.BeginScope(state);
        }
        catch (Exception)
        {
            return null;
        }
    }

    public bool IsEnabled(LogLevel logLevel)
    {
        try
        {
            return inner.IsEnabled(logLevel);
        }
        catch (Exception)
        {
            return false;
        }
    }

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
        }
        catch (Exception)
        {
            // The sink failed; see the summary.
        }
    }
}
