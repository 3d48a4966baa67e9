using BenchmarkDotNet.Attributes;
using CometMpm.AspNetCore;
using CometMpm.AspNetCore.Capture;
using CometMpm.Benchmarks.Models;
using CometMpm.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CometMpm.Benchmarks;

/// <summary>
/// The capture overhead per request of a minimal-API endpoint with a 10-property input DTO: the endpoint filter built by
/// <c>.WithCometMpm()</c>, invoked in memory with a <see cref="DefaultHttpContext"/> (no network, no Kestrel).
/// The client is real; its background sender never starts (the start-up ping never answers), and each iteration's
/// queued events are drained in the iteration cleanup, so only the request thread's work is measured:
/// prediction id, response header, sampling, feature extraction, event creation and enqueue.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
[InvocationCount(65_536)]
public class CaptureBenchmarks
{
    private static readonly LoanRequest Input = new(25_000, 72_000, 0.31, 712, 41, 60, "PT", "car", true, Segment.Retail);
    private static readonly LoanDecision Output = new(0.12, "approve");

    private ServiceProvider _services = null!;
    private AsyncServiceScope _scope;
    private CometMpmClient _client = null!;
    private EndpointFilterDelegate _handler = null!;
    private EndpointFilterDelegate _captured = null!;
    private EndpointFilterDelegate _sampledOut = null!;
    private EndpointFilterInvocationContext _context = null!;
    private EndpointFilterInvocationContext _contextWithId = null!;

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<CometMpmInstruments>();
        services.AddSingleton<IHttpClientFactory, NeverAnsweringHttpClientFactory>();
        services.AddSingleton(sp => new CometMpmClient(
            "bench",
            new CometMpmOptions
            {
                ApiKey = "bench",
                WorkspaceName = "bench",
                ModelName = "loans",
                ModelVersion = "1",
                UrlOverride = new Uri("http://127.0.0.1:9/"),
                QueueCapacity = 10_000_000,
                MaxBatchSize = 10_000_000,
                MaxBatchTime = TimeSpan.FromDays(1),
                PingTimeout = TimeSpan.FromDays(1),
            },
            sp.GetRequiredService<IHttpClientFactory>(),
            TimeProvider.System,
            sp.GetRequiredService<CometMpmInstruments>(),
            NullLoggerFactory.Instance));
        services.AddSingleton<ICometMpm>(sp => sp.GetRequiredService<CometMpmClient>());
        services.AddCometMpmAspNetCore();
        _services = services.BuildServiceProvider();
        _client = _services.GetRequiredService<CometMpmClient>();
        _scope = _services.CreateAsyncScope();

        _handler = _ => ValueTask.FromResult<object?>(Output);
        _captured = Build(new CometMpmEndpointOptions());
        _sampledOut = Build(new CometMpmEndpointOptions { SampleRate = 0 });

        _context = NewContext(null);
        _contextWithId = NewContext("loan-000981");
    }

    [IterationCleanup]
    public void Drain()
    {
        while (_client.Queue.TryRead(out _))
        {
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _scope.Dispose();
        _services.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Handler without capture")]
    public ValueTask<object?> NoCapture() => _handler(_context);

    [Benchmark(Description = "Capture, generated UUID v7 id")]
    public ValueTask<object?> Capture() => _captured(_context);

    [Benchmark(Description = "Capture, id from X-Prediction-Id")]
    public ValueTask<object?> CaptureWithHeaderId() => _captured(_contextWithId);

    [Benchmark(Description = "Capture, sampled out (rate 0)")]
    public ValueTask<object?> CaptureSampledOut() => _sampledOut(_context);

    private EndpointFilterDelegate Build(CometMpmEndpointOptions options)
    {
        var handler = (LoanRequest request) => Output;
        var metadata = new CaptureMetadata { CaptureAll = true };
        metadata.Layers.Add(options);
        var factoryContext = new EndpointFilterFactoryContext { MethodInfo = handler.Method, ApplicationServices = _services };
        return EndpointCapture.Create(factoryContext, _handler, metadata, "POST /loans");
    }

    private EndpointFilterInvocationContext NewContext(string? predictionId)
    {
        var http = new DefaultHttpContext { RequestServices = _scope.ServiceProvider };
        if (predictionId is not null)
        {
            http.Request.Headers[CometMpmAspNetCoreOptions.DefaultPredictionIdHeader] = predictionId;
        }

        return EndpointFilterInvocationContext.Create(http, Input);
    }

    /// <summary>The start-up ping never answers, so the sender loop never starts during the measurement.</summary>
    internal sealed class NeverAnsweringHttpClientFactory : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new(new NeverAnsweringHandler());

        private sealed class NeverAnsweringHandler : HttpMessageHandler
        {
            protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
                throw new OperationCanceledException(cancellationToken);
            }
        }
    }
}
