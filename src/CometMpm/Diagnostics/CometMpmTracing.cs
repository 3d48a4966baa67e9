using System.Diagnostics;

namespace CometMpm.Diagnostics;

/// <summary>
/// The library's <see cref="ActivitySource"/>, named <c>CometMpm</c> like its meter. Each outgoing operation (a batch
/// request with its retries, an upload, a ping, the start-up check) is one span, and the HTTP client's spans are its
/// children. Spans are created only when someone listens to <c>CometMpm</c>.
/// </summary>
internal static class CometMpmTracing
{
    public const string SourceName = "CometMpm";
    public const string BatchSpan = "cometmpm.batch.send";
    public const string PingSpan = "cometmpm.ping";
    public const string StartupCheckSpan = "cometmpm.startup_check";
    public const string UploadSpan = "cometmpm.upload";

    /// <summary>The name of the unrecorded parent put under the library's HTTP calls when no one records its spans.</summary>
    public const string UnrecordedParentName = "CometMpm.Unrecorded";

    public static readonly ActivitySource Source = new(SourceName, typeof(CometMpmTracing).Assembly.GetName().Version?.ToString(3));

    /// <summary>
    /// Starts the span of an outgoing operation, tagged with the client's tags. When no one records it and the operation
    /// runs outside any trace (the background loops), it starts instead an unrecorded, unsampled parent: the HTTP client's
    /// spans beneath then have a parent (never a root in the app's traces), and a parent-based sampler, OpenTelemetry's
    /// default, drops them. Dispose what it returns.
    /// </summary>
    public static Activity? StartOperation(string name, CometMpmMetrics metrics)
    {
        var activity = Source.StartActivity(name, ActivityKind.Internal); // null when no one listens or samples it
        if (activity is not null)
        {
            if (activity.IsAllDataRequested)
            {
                foreach (var tag in metrics.Tags)
                {
                    activity.SetTag(tag.Key, tag.Value);
                }
            }

            return activity;
        }

        if (Activity.Current is not null)
        {
            return null;
        }

        var parent = new Activity(UnrecordedParentName);
        parent.SetParentId(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.None);
        parent.IsAllDataRequested = false;
        return parent.Start();
    }

    /// <summary>A URL for <c>url.full</c>: scheme, host, port and path; credentials, query and fragment left out.</summary>
    public static string Redacted(Uri uri) => uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);

    /// <summary>Records how the operation ended, as the HTTP client conventions name it.</summary>
    public static void SetOutcome(Activity? activity, int statusCode, string? errorType, string? description)
    {
        if (activity is not { IsAllDataRequested: true })
        {
            return;
        }

        if (statusCode > 0)
        {
            activity.SetTag(CometMpmMetrics.StatusCodeTag, statusCode);
        }

        if (errorType is null)
        {
            activity.SetStatus(ActivityStatusCode.Ok);
            return;
        }

        activity.SetTag(CometMpmMetrics.ErrorTypeTag, errorType);
        activity.SetStatus(ActivityStatusCode.Error, description);
    }
}
