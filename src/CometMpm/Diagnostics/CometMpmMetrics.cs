using System.Diagnostics;
using CometMpm.Events;

namespace CometMpm.Diagnostics;

/// <summary>
/// What one client records, through the shared <see cref="CometMpmInstruments"/>: every measurement carries the tags
/// <c>cometmpm.client</c> and, when known, <c>cometmpm.workspace</c>, <c>cometmpm.model</c>, <c>cometmpm.model_version</c>;
/// failures are tagged as the OpenTelemetry semantic conventions name them (<c>error.type</c>,
/// <c>http.response.status_code</c>). Recording with no listener costs a few nanoseconds, so the request path may count.
/// </summary>
internal sealed class CometMpmMetrics
{
    public const string ClientTag = "cometmpm.client";
    public const string WorkspaceTag = "cometmpm.workspace";
    public const string ModelTag = "cometmpm.model";
    public const string ModelVersionTag = "cometmpm.model_version";
    public const string ErrorTypeTag = "error.type";
    public const string StatusCodeTag = "http.response.status_code";

    private readonly CometMpmInstruments _instruments;
    private readonly KeyValuePair<string, object?>[] _tags;
    private readonly Lock _lock = new();
    private Func<long>? _queueDepth;
    private (Func<int> Files, Func<long> Bytes, Func<long> Events)? _outbox;

    internal CometMpmMetrics(CometMpmInstruments instruments, string name, ModelIdentity? model)
    {
        _instruments = instruments;
        Model = model;
        ClientName = name.Length == 0 ? "default" : name;
        _tags = model is null
            ? [new(ClientTag, ClientName)]
            : [new(ClientTag, ClientName), new(WorkspaceTag, model.WorkspaceName), new(ModelTag, model.ModelName), new(ModelVersionTag, model.ModelVersion)];
    }

    /// <summary>The client's name as tags and logs show it: <c>default</c> for the unnamed client.</summary>
    public string ClientName { get; }

    public ModelIdentity? Model { get; }

    /// <summary>The client's tags, shared by its metrics and its spans.</summary>
    public ReadOnlySpan<KeyValuePair<string, object?>> Tags => _tags;

    public void Enqueued() => _instruments.Enqueued.Add(1, Tags);

    public void Sent(int count) => _instruments.Sent.Add(count, Tags);

    /// <summary>Counts events that will never be delivered; the reason is the <c>error.type</c> tag.</summary>
    public void Dropped(string reason, long count = 1)
    {
        var tags = new TagList(Tags) { { ErrorTypeTag, reason } };
        _instruments.Dropped.Add(count, in tags);
    }

    public void Retried() => _instruments.Retried.Add(1, Tags);

    /// <summary>Counts a batch request and records its duration: the final status, or the error type when it failed.</summary>
    public void Request(int statusCode, string? errorType, TimeSpan elapsed)
    {
        var tags = new TagList(Tags);
        if (statusCode > 0)
        {
            tags.Add(StatusCodeTag, statusCode);
        }

        if (errorType is not null)
        {
            tags.Add(ErrorTypeTag, errorType);
        }

        _instruments.Requests.Add(1, in tags);
        _instruments.BatchDuration.Record(elapsed.TotalSeconds, in tags);
    }

    public void Spilled(int count) => _instruments.Spilled.Add(count, Tags);

    public void Quarantined() => _instruments.Quarantined.Add(1, Tags);

    /// <summary>Where the queue-depth gauge reads this client's queue (one queue per client).</summary>
    public void SetQueueDepthSource(Func<long> source)
    {
        lock (_lock)
        {
            _queueDepth = source;
        }
    }

    /// <summary>Where the outbox gauges read this client's outbox.</summary>
    public void SetOutboxSource(Func<int> files, Func<long> bytes, Func<long> events)
    {
        lock (_lock)
        {
            _outbox = (files, bytes, events);
        }
    }

    internal long? QueueDepth()
    {
        lock (_lock)
        {
            return _queueDepth?.Invoke();
        }
    }

    internal long? OutboxFileCount()
    {
        lock (_lock)
        {
            return _outbox?.Files();
        }
    }

    internal long? OutboxByteCount()
    {
        lock (_lock)
        {
            return _outbox?.Bytes();
        }
    }

    internal long? OutboxEventCount()
    {
        lock (_lock)
        {
            return _outbox?.Events();
        }
    }
}
