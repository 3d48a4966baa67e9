using System.Collections.Concurrent;
using System.Globalization;
using CometMpm.Diagnostics;
using CometMpm.Serialization;
using CometMpm.Transport;
using Microsoft.Extensions.Logging;

namespace CometMpm.Delivery;

/// <summary>
/// The last link: serializes the payload, sends it through the transport (one request, with the transport's retries),
/// and says what the backend answered. It records the answer in the <see cref="SendGate"/> (success, failure, key
/// refused) and sends nothing while the gate is closed.
/// </summary>
internal sealed class HttpDelivery(
    MpmTransport transport,
    CometMpmOptions options,
    CometMpmMetrics metrics,
    LoggingErrorStore errors,
    TimeProvider timeProvider,
    string? outboxDirectory,
    ILogger logger) : IBatchDelivery
{
    // A request may still be in flight (the outbox link let it finish in the background) while the next one is built.
    private readonly ConcurrentBag<BatchSerializer> _serializers = [];
    private readonly SendGate _gate = transport.Gate;

    public async ValueTask<DeliveryReport> DeliverAsync(BatchPayload payload, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return DeliveryReport.OfUnsent(payload, SendStatus.Cancelled, 0, "the end timeout ran out before it was sent");
        }

        if (!_gate.StartupChecked.IsCompleted)
        {
            try
            {
                await _gate.StartupChecked.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return DeliveryReport.OfUnsent(payload, SendStatus.Cancelled, 0, "the end timeout ran out before the start-up check answered");
            }
        }

        if (_gate.DisabledReason is { } disabled)
        {
            return DeliveryReport.OfUnsent(payload, SendStatus.Disabled, 0, "the start-up check disabled the client: " + disabled);
        }

        if (_gate.Closed() is { } closed)
        {
            return DeliveryReport.OfUnsent(payload, SendStatus.GateClosed, _gate.KeyRefusedStatus, closed);
        }

        if (!_serializers.TryTake(out var serializer))
        {
            serializer = new BatchSerializer();
        }

        try
        {
            var body = await payload.SerializeAsync(serializer).ConfigureAwait(false);
            if (body.Length > options.MaxRequestBytes)
            {
                return DeliveryReport.OfUnsent(payload, SendStatus.TooLarge, 0, string.Create(CultureInfo.InvariantCulture, $"the body is {body.Length} bytes, over CometMpm:MaxRequestBytes ({options.MaxRequestBytes})"));
            }

            var started = timeProvider.GetTimestamp();
            var result = await transport.PostBatchAsync(payload.IsLabels, body, payload.Count, cancellationToken).ConfigureAwait(false);
            metrics.Request(result.StatusCode, result.ErrorType, timeProvider.GetElapsedTime(started));
            return Classify(payload, result);
        }
        finally
        {
            _serializers.Add(serializer);
        }
    }

    private DeliveryReport Classify(BatchPayload payload, TransportResult result)
    {
        if (result.IsSuccess)
        {
            _gate.RecordSuccess();
            return DeliveryReport.OfDelivered(payload.Count);
        }

        if (result.Cancelled)
        {
            return DeliveryReport.OfUnsent(payload, SendStatus.Cancelled, 0, "the end timeout ran out before the backend answered");
        }

        if (result.IsUnauthorized)
        {
            if (_gate.RefuseKey(result.StatusCode))
            {
                Log.Unauthorized(logger, result.StatusCode, outboxDirectory is null
                    ? "Events are dropped (unauthorized); set CometMpm:Outbox:Directory to keep them until the key is fixed."
                    : $"Events are kept in the outbox ({outboxDirectory}) and delivered after the restart.");
                errors.Add($"The backend refused the API key (HTTP {result.StatusCode}). Fix CometMpm:ApiKey (COMET_API_KEY) and restart.");
            }

            return DeliveryReport.OfUnsent(payload, SendStatus.KeyRefused, result.StatusCode, result.Detail);
        }

        if (result.IsRejected && !result.NotMpm)
        {
            return DeliveryReport.OfUnsent(payload, SendStatus.Refused, result.StatusCode, result.Detail);
        }

        _gate.RecordFailure();
        return DeliveryReport.OfUnsent(payload, SendStatus.Failed, result.StatusCode, result.Detail);
    }
}
