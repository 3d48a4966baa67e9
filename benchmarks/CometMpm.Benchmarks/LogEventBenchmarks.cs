using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using CometMpm.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;

namespace CometMpm.Benchmarks;

/// <summary>
/// The caller-thread cost of <c>ICometMpm.LogEvent</c> and <c>ICometMpm.LogLabel</c>, side by side with the
/// same record through the OpenTelemetry .NET logs pipeline (<see cref="ILogger"/> + batch log record export processor
/// + OTLP/HTTP exporter to a loopback server), the baseline of each category.
/// <para>
/// CometMpm: a real <see cref="CometMpmClient"/> whose background sender sends nothing (its start-up ping never answers:
/// the worker holds at most one batch waiting for it); each iteration's queued events are drained in the iteration
/// cleanup, as in <see cref="CaptureBenchmarks"/>. The
/// "sender running" case uses a second client that really delivers to the loopback sink while the benchmark runs.
/// OpenTelemetry: the exporter really exports, on its own thread, to a Kestrel server on 127.0.0.1 that answers 200; its
/// queue is large enough for a whole iteration (no record is dropped, which would be cheaper). The baseline pipeline
/// exports in the iteration cleanup only (like the CometMpm client above); the "exporter running" one has the default
/// batch size and delay and exports while the benchmark runs (like the CometMpm "sender delivering" case).
/// </para>
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
[InvocationCount(65_536)]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public partial class LogEventBenchmarks
{
    private const string Features10 = "10 features";
    private const string Features100 = "100 features";
    private const string Label = "label";

    private static readonly Dictionary<string, object?> Input10 = new()
    {
        ["amount"] = 25_000.0,
        ["income"] = 72_000.0,
        ["debt_ratio"] = 0.31,
        ["credit_score"] = 712.0,
        ["country"] = "PT",
        ["purpose"] = "car",
        ["segment"] = "retail",
        ["channel"] = "web",
        ["has_collateral"] = true,
        ["first_loan"] = false,
    };

    private static readonly Dictionary<string, object?> Input100 = Enumerable.Range(0, 100).ToDictionary(
        i => $"feature_{i:D3}",
        i => (i % 10) switch
        {
            < 4 => (object?)(i * 1.5),
            < 8 => $"value-{i}",
            _ => i % 2 == 0,
        });

    private static readonly KeyValuePair<string, object?>[] OtelState100 =
        [new("predictionId", "pred-000000000981"), .. Input100];

    private static readonly Dictionary<string, object?> Labels = new() { ["defaulted"] = false };

    private LoopbackSink _sink = null!;
    private ServiceProvider _services = null!;
    private CometMpmClient _client = null!;
    private CometMpmClient _liveClient = null!;
    private ServiceProvider _otelServices = null!;
    private LoggerProvider _otelProvider = null!;
    private ILogger _otelLogger = null!;
    private ServiceProvider _otelLiveServices = null!;
    private LoggerProvider _otelLiveProvider = null!;
    private ILogger _otelLiveLogger = null!;
    private int _loggedSinceDrain;

    [GlobalSetup]
    public void Setup()
    {
        _sink = LoopbackSink.StartAsync().GetAwaiter().GetResult();

        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddSingleton<CometMpmInstruments>();
        services.AddHttpClient();
        _services = services.BuildServiceProvider();
        var metrics = _services.GetRequiredService<CometMpmInstruments>();
        _client = new CometMpmClient(
            "bench",
            Options(new Uri("http://127.0.0.1:9/"), pingTimeout: TimeSpan.FromDays(1)),
            new CaptureBenchmarks.NeverAnsweringHttpClientFactory(),
            TimeProvider.System,
            metrics,
            NullLoggerFactory.Instance);
        _liveClient = new CometMpmClient(
            "live",
            Options(_sink.BaseUrl, pingTimeout: TimeSpan.FromSeconds(10)),
            _services.GetRequiredService<IHttpClientFactory>(),
            TimeProvider.System,
            metrics,
            NullLoggerFactory.Instance);

        // Baseline: the exporter exports only in the iteration cleanup (its batch holds a whole iteration and its timer
        // is an hour), as the CometMpm sender above only sends then, so both measure the caller's thread alone.
        (_otelServices, _otelProvider, _otelLogger) = OpenTelemetryLogging(exportBatchSize: 65_536, scheduledDelayMs: 3_600_000);

        // And as configured by default (batches of 512, every 5 s), exporting while the benchmark runs.
        (_otelLiveServices, _otelLiveProvider, _otelLiveLogger) = OpenTelemetryLogging(exportBatchSize: 512, scheduledDelayMs: 5_000);
    }

    private (ServiceProvider, LoggerProvider, ILogger) OpenTelemetryLogging(int exportBatchSize, int scheduledDelayMs)
    {
        var otel = new ServiceCollection();
        otel.AddLogging(logging => logging.AddOpenTelemetry(options => options.AddOtlpExporter((exporter, processor) =>
        {
            exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
            exporter.Endpoint = new Uri(_sink.BaseUrl, "v1/logs");
            processor.ExportProcessorType = ExportProcessorType.Batch;

            // The queue takes a whole iteration: a full queue drops records, which would be cheaper than logging them.
            processor.BatchExportProcessorOptions.MaxQueueSize = 1 << 20;
            processor.BatchExportProcessorOptions.MaxExportBatchSize = exportBatchSize;
            processor.BatchExportProcessorOptions.ScheduledDelayMilliseconds = scheduledDelayMs;
        })));
        var services = otel.BuildServiceProvider();
        return (
            services,
            services.GetRequiredService<LoggerProvider>(),
            services.GetRequiredService<ILoggerFactory>().CreateLogger("CometMpm.Benchmarks.Predictions"));
    }

    [IterationCleanup]
    public void Cleanup()
    {
        while (_client.Queue.TryRead(out _))
        {
        }

        _liveClient.FlushAsync().GetAwaiter().GetResult();
        _otelProvider.ForceFlush();
        _otelLiveProvider.ForceFlush();
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        _client.Dispose();
        _liveClient.EndAsync().GetAwaiter().GetResult();
        _otelServices.Dispose();
        _otelLiveServices.Dispose();
        _services.Dispose();
        _sink.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Console.WriteLine($"// loopback sink received {_sink.Requests} requests, {_sink.Bytes} bytes");
    }

    [Benchmark(Baseline = true, Description = "OpenTelemetry, 10 attributes")]
    [BenchmarkCategory(Features10)]
    public void OpenTelemetry10() => LogPrediction(
        _otelLogger, "pred-000000000981", 25_000.0, 72_000.0, 0.31, 712.0, "PT", "car", "retail", "web", true, false);

    [Benchmark(Description = "OpenTelemetry, 10 attributes, exporter running")]
    [BenchmarkCategory(Features10)]
    public void OpenTelemetry10Live() => LogPrediction(
        _otelLiveLogger, "pred-000000000981", 25_000.0, 72_000.0, 0.31, 712.0, "PT", "car", "retail", "web", true, false);

    [Benchmark(Description = "LogEvent, 10 features")]
    [BenchmarkCategory(Features10)]
    public LogResult LogEvent10() => _client.LogEvent("pred-000000000981", Input10);

    /// <summary>
    /// As <see cref="LogEvent10"/>, but the queue is emptied on this thread after every 1,000 calls, as the sender takes a
    /// batch: the queued events then die young instead of a whole iteration (65,536 events, 16 MB) being promoted by the
    /// GC. The dequeue is inside the measured time, so this is an upper bound of the steady-state cost.
    /// </summary>
    [Benchmark(Description = "LogEvent, 10 features, queue emptied every 1,000 (dequeue included)")]
    [BenchmarkCategory(Features10)]
    public LogResult LogEvent10SteadyState()
    {
        var result = _client.LogEvent("pred-000000000981", Input10);
        if (++_loggedSinceDrain == 1000)
        {
            _loggedSinceDrain = 0;
            while (_client.Queue.TryRead(out _))
            {
            }
        }

        return result;
    }

    [Benchmark(Description = "LogEvent, 10 features, sender delivering")]
    [BenchmarkCategory(Features10)]
    public LogResult LogEvent10Live() => _liveClient.LogEvent("pred-000000000981", Input10);

    [Benchmark(Baseline = true, Description = "OpenTelemetry, 100 attributes")]
    [BenchmarkCategory(Features100)]
    public void OpenTelemetry100() =>
        _otelLogger.Log(LogLevel.Information, new EventId(2, "Prediction"), OtelState100, null, static (_, _) => "prediction");

    [Benchmark(Description = "LogEvent, 100 features")]
    [BenchmarkCategory(Features100)]
    public LogResult LogEvent100() => _client.LogEvent("pred-000000000981", Input100);

    [Benchmark(Baseline = true, Description = "OpenTelemetry, label")]
    [BenchmarkCategory(Label)]
    public void OpenTelemetryLabel() => LogLabel(_otelLogger, "pred-000000000981", false);

    [Benchmark(Description = "LogLabel, 1 label")]
    [BenchmarkCategory(Label)]
    public LogResult LogLabel1() => _client.LogLabel("pred-000000000981", Labels);

    // The idiomatic fast path of .NET logging: a source-generated, strongly typed message.
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "prediction {PredictionId} {Amount} {Income} {DebtRatio} {CreditScore} {Country} {Purpose} {Segment} {Channel} {HasCollateral} {FirstLoan}")]
    private static partial void LogPrediction(
        ILogger logger, string predictionId, double amount, double income, double debtRatio, double creditScore,
        string country, string purpose, string segment, string channel, bool hasCollateral, bool firstLoan);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "label {PredictionId} {Defaulted}")]
    private static partial void LogLabel(ILogger logger, string predictionId, bool defaulted);

    private static CometMpmOptions Options(Uri url, TimeSpan pingTimeout) => new()
    {
        ApiKey = "bench",
        WorkspaceName = "bench",
        ModelName = "loans",
        ModelVersion = "1",
        UrlOverride = url,
        QueueCapacity = 10_000_000,
        MaxQueueBytes = 8L * 1024 * 1024 * 1024,
        MaxBatchTime = TimeSpan.FromSeconds(1),
        PingTimeout = pingTimeout,
    };
}
