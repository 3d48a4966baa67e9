using System.Diagnostics;
using CometMpm.Diagnostics;

namespace CometMpm.Transport;

/// <summary>What the transport writes on its spans (see <see cref="CometMpmTracing"/>).</summary>
internal sealed partial class MpmTransport
{
    private static void DescribeBatch(Activity? activity, bool labels, int events, int bytes)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("cometmpm.batch.kind", labels ? "labels" : "events");
            activity.SetTag("cometmpm.batch.events", events);
            activity.SetTag("cometmpm.batch.bytes", bytes);
        }
    }

    /// <summary>The request's attributes, named as the HTTP client conventions name them (the URL holds no secret).</summary>
    private static void DescribeRequest(Activity? activity, HttpMethod method, Uri uri)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("http.request.method", method.Method);
            activity.SetTag("server.address", uri.Host);
            activity.SetTag("server.port", uri.Port);
            activity.SetTag("url.full", CometMpmTracing.Redacted(uri));
        }
    }

    private static void DescribeOutcome(Activity? activity, TransportResult result, int attempts)
    {
        if (activity is { IsAllDataRequested: true } && attempts > 1)
        {
            activity.SetTag("http.request.resend_count", attempts - 1);
        }

        CometMpmTracing.SetOutcome(activity, result.StatusCode, result.ErrorType, result.IsSuccess ? null : result.Detail);
    }
}
