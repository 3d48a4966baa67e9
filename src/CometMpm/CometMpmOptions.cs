using CometMpm.Configuration;

namespace CometMpm;

/// <summary>
/// Settings of a Comet MPM client, bound from the <c>CometMpm</c> configuration section.
/// Every setting of the Python SDK has a counterpart here; its <c>COMET_*</c> environment
/// variable is honoured too, and explicit configuration wins over the environment.
/// </summary>
public sealed class CometMpmOptions
{
    /// <summary>The configuration section the options are bound from: <c>CometMpm</c>.</summary>
    public const string SectionName = "CometMpm";

    /// <summary>The name of the <see cref="System.Net.Http.HttpClient"/> the client asks <c>IHttpClientFactory</c> for.
    /// Configure it (proxy, certificates, primary handler) with <c>services.AddHttpClient(CometMpmOptions.HttpClientName)</c>.
    /// It has one retry layer, the client's own: resilience handlers added to it, or to every client
    /// (<c>ConfigureHttpClientDefaults</c>), are removed from it, and it never follows redirects.</summary>
    public const string HttpClientName = "CometMpm";

    /// <summary>The Comet API key (<c>COMET_API_KEY</c>). Required unless <see cref="Disabled"/>.
    /// A key of the form <c>key*base64(json)</c> may carry the server's <c>baseUrl</c>. It is a secret:
    /// the library never logs it.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The Comet workspace of the model (<c>COMET_MPM_WORKSPACE_NAME</c>). Required.</summary>
    public string? WorkspaceName { get; set; }

    /// <summary>The model's name in MPM (<c>COMET_MPM_MODEL_NAME</c>). Required.</summary>
    public string? ModelName { get; set; }

    /// <summary>The model's version in MPM (<c>COMET_MPM_MODEL_VERSION</c>). Required.</summary>
    public string? ModelVersion { get; set; }

    /// <summary>The Comet server URL (<c>COMET_URL_OVERRIDE</c> or <c>COMET_URL</c>). Only its scheme, host and port
    /// are used, as in the Python SDK; when unset, the <c>baseUrl</c> inside the API key or
    /// <c>https://www.comet.com/</c> is used.</summary>
    public Uri? UrlOverride { get; set; }

    /// <summary>The path of the MPM API on the server (<c>COMET_MPM_BASE_PATH</c>). Default <c>/mpm/</c>.</summary>
    public string BasePath { get; set; } = "/mpm/";

    /// <summary>When true nothing is sent and no network call is made (<c>COMET_MPM_DISABLED</c>);
    /// logging calls return <see cref="LogStatus.Disabled"/>.</summary>
    public bool Disabled { get; set; }

    /// <summary>The largest number of events (predictions and labels together) in one batch
    /// (<c>COMET_MPM_MAX_BATCH_SIZE</c>, alias <c>MPM_MAX_BATCH_SIZE</c>). Default 1000.</summary>
    [SettingRange(1, 100_000, EnvironmentVariable = "COMET_MPM_MAX_BATCH_SIZE")]
    public int MaxBatchSize { get; set; } = 1000;

    /// <summary>The longest time an event waits in an unfilled batch before the batch is sent
    /// (<c>COMET_MPM_MAX_BATCH_TIME</c> in seconds, alias <c>MPM_MAX_BATCH_TIME</c>). Default 60 s.</summary>
    [SettingRange("00:00:00.001", "1.00:00:00", EnvironmentVariable = "COMET_MPM_MAX_BATCH_TIME")]
    public TimeSpan MaxBatchTime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long ending the client (or stopping the host) may spend sending what is still queued
    /// (<c>COMET_MPM_JOIN_TIMEOUT</c> in seconds). Default 30 s.</summary>
    [SettingRange("00:00:00", "01:00:00", EnvironmentVariable = "COMET_MPM_JOIN_TIMEOUT")]
    public TimeSpan EndTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The timeout of one HTTP attempt (<c>COMET_MPM_BATCH_SENDING_TIMEOUT</c> in seconds). Default 300 s.</summary>
    [SettingRange("00:00:00.001", "01:00:00", EnvironmentVariable = "COMET_MPM_BATCH_SENDING_TIMEOUT")]
    public TimeSpan BatchSendingTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>When true a failed start-up health check fails application start
    /// (<c>COMET_MPM_RAISE_ON_ERROR_DURING_INIT</c>); otherwise it is logged and, when the backend answered
    /// with an error status, the client is disabled as in the Python SDK.</summary>
    public bool RaiseOnErrorDuringInit { get; set; }

    /// <summary>The longest time the start-up health check (<c>GET /mpm/isAlive/ping</c>) may take. Default 5 s.</summary>
    [SettingRange("00:00:00.001", "00:05:00")]
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The size of the pieces a large CSV upload is cut into, in MiB (<c>COMET_MPM_CSV_CHUNK_SIZE_MB</c>). Default 100.</summary>
    [SettingRange(1, 10_000, EnvironmentVariable = "COMET_MPM_CSV_CHUNK_SIZE_MB")]
    public int CsvChunkSizeMb { get; set; } = 100;

    /// <summary>The number of events the in-memory queue holds before <see cref="FullQueuePolicy"/> applies. Default 100,000.</summary>
    [SettingRange(1, 10_000_000)]
    public int QueueCapacity { get; set; } = 100_000;

    /// <summary>The approximate memory the queued events may take, in bytes, before <see cref="FullQueuePolicy"/> applies
    /// (large feature vectors make a count-only bound unsafe). Default 64 MiB.</summary>
    [SettingRange(1024, long.MaxValue)]
    public long MaxQueueBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>What happens to an event logged while the queue is full. Default <see cref="CometMpm.FullQueuePolicy.DropNewest"/>.</summary>
    public FullQueuePolicy FullQueuePolicy { get; set; } = FullQueuePolicy.DropNewest;

    /// <summary>With <see cref="CometMpm.FullQueuePolicy.Wait"/>: how long a logging call may wait for space. Default 1 s.</summary>
    [SettingRange("00:00:00", "00:10:00")]
    public TimeSpan FullQueueWaitTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest request body; a bigger batch is split before it is sent (and a 413 splits it too). Default 8 MiB.</summary>
    [SettingRange(1024, int.MaxValue)]
    public int MaxRequestBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>How many batches in a row may fail (after their retries) before the circuit opens and sending pauses. Default 3.</summary>
    [SettingRange(1, 1000)]
    public int CircuitBreakerFailureThreshold { get; set; } = 3;

    /// <summary>How long sending pauses once the circuit is open, before one batch probes the backend. Default 30 s.</summary>
    [SettingRange("00:00:00.001", "01:00:00")]
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The durable outbox on disk (opt-in): batches that cannot be delivered are kept there and replayed.</summary>
#pragma warning disable SYSLIB1212 // The outbox's annotations are evaluated by their own validator, which names them Outbox:….
    public CometMpmOutboxOptions Outbox { get; set; } = new();
#pragma warning restore SYSLIB1212

    /// <summary>How many times a failed batch request is retried (on 408, 429, 5xx, timeouts and connection errors). Default 5.</summary>
    [SettingRange(0, 100)]
    public int MaxRetryAttempts { get; set; } = 5;

    /// <summary>The first retry delay; later ones grow exponentially, with jitter, up to <see cref="RetryMaxDelay"/>. Default 1 s.</summary>
    [SettingRange("00:00:00", "00:10:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay between two attempts, including one asked for by <c>Retry-After</c>. Default 60 s.</summary>
    [SettingRange("00:00:00", "01:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>When true, invalid input makes the logging call throw <see cref="ArgumentException"/> instead of
    /// returning <see cref="LogStatus.InvalidInput"/>. Meant for tests and development.</summary>
    public bool ThrowOnInvalidInput { get; set; }
}

/// <summary>What the client does with an event logged while its queue is full.</summary>
public enum FullQueuePolicy
{
    /// <summary>The new event is refused (<see cref="LogStatus.QueueFull"/>) and counted as dropped (<c>queue_full</c>).</summary>
    DropNewest = 0,

    /// <summary>The new event is accepted and the oldest queued event is dropped and counted (<c>queue_full</c>).</summary>
    DropOldest = 1,

    /// <summary>The logging call waits up to <see cref="CometMpmOptions.FullQueueWaitTimeout"/> for space, then refuses the event.
    /// Meant for batch jobs and backfills; never use it on a request path.</summary>
    Wait = 2,
}

/// <summary>
/// The durable outbox: batches that still fail after their retries, that the backend refuses for the API key,
/// or that are left when shutdown's time runs out are written to files in <see cref="Directory"/> and replayed,
/// oldest first, once the backend answers again (also by the next process using the same directory).
/// </summary>
public sealed class CometMpmOutboxOptions
{
    /// <summary>The directory (opt-in; no outbox when unset). It is created with owner-only permissions. Several processes may
    /// share it. Never point it at a shared temporary folder.</summary>
    public string? Directory { get; set; }

    /// <summary>The most the outbox may hold, in bytes; past it the oldest files are dropped and counted (<c>outbox_full</c>). Default 1 GiB.</summary>
    [SettingRange(1024, long.MaxValue)]
    public long MaxBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>How long a batch may wait in the outbox; older ones are dropped and counted (<c>outbox_expired</c>). Default 7 days.</summary>
    [SettingRange("00:00:01", "365.00:00:00")]
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>While the backend is down, how long events may wait in memory before they are written to the outbox
    /// (this bounds what a crash during an outage can lose). Default 1 s.</summary>
    [SettingRange("00:00:00.001", "01:00:00")]
    public TimeSpan SpillInterval { get; set; } = TimeSpan.FromSeconds(1);
}
