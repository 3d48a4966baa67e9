namespace CometMpm;

/// <summary>The base of the exceptions of this library (Python <c>CometMPMException</c>).</summary>
public class CometMpmException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CometMpmException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public CometMpmException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public CometMpmException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}

/// <summary>The MPM backend answered with an error (Python <c>CometMPMBackendException</c>).</summary>
public class CometMpmBackendException : CometMpmException
{
    /// <summary>Creates the exception.</summary>
    public CometMpmBackendException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public CometMpmBackendException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public CometMpmBackendException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>The HTTP status the backend answered with, when it answered.</summary>
    public int? StatusCode { get; init; }
}

/// <summary>The MPM backend could not be reached or is not installed on the server (Python <c>CometMPMBackendIsNotAvailable</c>).</summary>
public sealed class CometMpmBackendNotAvailableException : CometMpmBackendException
{
    /// <summary>Creates the exception.</summary>
    public CometMpmBackendNotAvailableException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public CometMpmBackendNotAvailableException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public CometMpmBackendNotAvailableException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}
