using CometMpm.Diagnostics;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Delivery;

/// <summary>
/// The start-up health check, <c>GET isAlive/ping</c>, bounded by <see cref="CometMpmOptions.PingTimeout"/>. An error
/// status disables the client as in the Python SDK (the gate closes; uploads are refused); a refused key closes the
/// gate for the key; an unreachable backend is only reported (events stay queued and are retried), where the Python
/// SDK would crash the constructor.
/// </summary>
internal sealed class StartupCheck(MpmTransport transport, CometMpmOptions options, LoggingErrorStore errors, string clientName, ILogger logger)
{
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the check has finished, whatever its outcome.</summary>
    public Task Completed => _completed.Task;

    /// <summary>Runs the check; with <paramref name="raise"/> a failure is thrown (application start fails with the reason).</summary>
    public async Task RunAsync(bool raise, CancellationToken cancellationToken)
    {
        using var activity = CometMpmTracing.StartOperation(CometMpmTracing.StartupCheckSpan, transport.Metrics);
        try
        {
            var result = await PingAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsSuccess)
            {
                CometMpmTracing.SetOutcome(activity, result.StatusCode, null, null);
                return;
            }

            var failure = Describe(result, cancellationToken.IsCancellationRequested);
            CometMpmTracing.SetOutcome(activity, result.StatusCode, result.ErrorType, failure.Message);
            if (raise)
            {
                throw failure;
            }

            errors.Add($"Connection failed during initialization: {failure.Message}");
            if (result.StatusCode == 0 || (result.StatusCode != 500 && MpmTransport.IsTransient((System.Net.HttpStatusCode)result.StatusCode)))
            {
                Log.PingUnreachable(logger, failure.Message); // events stay queued and are retried
            }
            else if (result.StatusCode is 401 or 403)
            {
                transport.Gate.RefuseKey(result.StatusCode);
                Log.Unauthorized(logger, result.StatusCode, "Nothing is sent until the key is fixed and the application restarted.");
            }
            else
            {
                Log.PingFailedDisabled(logger, clientName, failure.Message);
                transport.Gate.Disable(failure.Message);
            }
        }
        finally
        {
            _completed.TrySetResult();
        }
    }

    /// <summary>One <c>GET isAlive/ping</c>, bounded by the ping timeout (also the command-line <c>ping</c>).</summary>
    public async Task<TransportResult> PingAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.PingTimeout);
        var result = await transport.PingAsync(timeout.Token).ConfigureAwait(false);
        return result.Cancelled && !cancellationToken.IsCancellationRequested
            ? new TransportResult(0, result.LastError is { } last ? $"{last} (retried for {options.PingTimeout})" : $"no answer within {options.PingTimeout}")
            : result;
    }

    private CometMpmException Describe(TransportResult result, bool cancelled)
    {
        var mpmBase = transport.Address.MpmBase;
        return result.StatusCode switch
        {
            0 when cancelled => new CometMpmException("Health check cancelled."),
            408 or 429 or 502 or 503 or 504 => new CometMpmBackendNotAvailableException($"The MPM backend at {mpmBase} is temporarily unavailable ({result.Detail}).") { StatusCode = result.StatusCode },
            0 => new CometMpmBackendNotAvailableException($"Could not reach the MPM backend at {mpmBase} within {options.PingTimeout}: {result.Detail}. Check CometMpm:UrlOverride (COMET_URL_OVERRIDE) and the network."),
            500 => new CometMpmBackendException($"The MPM backend at {mpmBase} isn't working as expected ({result.Detail}).") { StatusCode = 500 },
            401 or 403 => new CometMpmBackendNotAvailableException($"The MPM backend at {mpmBase} refused the API key ({result.Detail}). Check CometMpm:ApiKey (COMET_API_KEY).") { StatusCode = result.StatusCode },
            _ => new CometMpmBackendNotAvailableException($"MPM doesn't seem to be installed at {mpmBase} ({result.Detail}). Check CometMpm:UrlOverride (COMET_URL_OVERRIDE) and CometMpm:BasePath (COMET_MPM_BASE_PATH).") { StatusCode = result.StatusCode },
        };
    }
}
