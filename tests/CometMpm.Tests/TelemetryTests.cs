using System.Diagnostics;
using System.Diagnostics.Metrics;
using CometMpm.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

/// <summary>
/// The library as an OpenTelemetry citizen, seen through in-memory listeners: its spans, the HTTP client's spans under
/// them, and metrics that keep clients apart.
/// </summary>
public sealed class TelemetryTests
{
    private const string HttpSource = "System.Net.Http";

    [Fact]
    public async Task BatchRequest_IsOneSpan_WithTheHttpSpanAsItsChild_AndNoHttpSpanOfTheLibraryIsARoot()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        using var spans = new SpanRecorder(parentBased: false, "CometMpm", HttpSource);
        await using var client = await StartAsync(server);

        client.Mpm.LogEvent("p1", Features(("amount", 12.5)));
        client.Mpm.LogEvent("p2", Features(("amount", 3)));
        Assert.True(await client.Mpm.FlushAsync());

        var recorded = spans.To(server.BaseUrl);
        var batch = Assert.Single(recorded, s => s.OperationName == "cometmpm.batch.send");
        Assert.Equal("CometMpm", batch.Source.Name);
        Assert.Equal(2, batch.GetTagItem("cometmpm.batch.events"));
        Assert.True((int)batch.GetTagItem("cometmpm.batch.bytes")! > 0);
        Assert.Equal("events", batch.GetTagItem("cometmpm.batch.kind"));
        Assert.Equal("default", batch.GetTagItem("cometmpm.client"));
        Assert.Equal("fraud-detector", batch.GetTagItem("cometmpm.model"));
        Assert.Equal("payments", batch.GetTagItem("cometmpm.workspace"));
        Assert.Equal("2.3.0", batch.GetTagItem("cometmpm.model_version"));
        Assert.Equal("POST", batch.GetTagItem("http.request.method"));
        Assert.Equal(200, batch.GetTagItem("http.response.status_code"));
        Assert.Equal(ActivityStatusCode.Ok, batch.Status);

        var http = recorded.Where(s => s.Source.Name == HttpSource).ToList();
        Assert.Contains(http, s => s.ParentSpanId == batch.SpanId && s.TraceId == batch.TraceId);
        Assert.DoesNotContain(http, s => s.ParentSpanId == default);

        var check = Assert.Single(spans.Stopped, s => s.OperationName == "cometmpm.startup_check" && s.TraceId == recorded.Single(r => r.OperationName == "cometmpm.ping").TraceId);
        var ping = Assert.Single(recorded, s => s.OperationName == "cometmpm.ping");
        Assert.Equal(check.SpanId, ping.ParentSpanId);
        Assert.Contains(http, s => s.ParentSpanId == ping.SpanId);
    }

    [Fact]
    public async Task FailedBatch_SpanSaysHowItFailed_AndHowManyTimesItWasResent()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        server.Enqueue(new ScriptedResponse(503), new ScriptedResponse(503), new ScriptedResponse(400, Body: "{\"msg\":\"bad\"}"));
        using var spans = new SpanRecorder(parentBased: false, "CometMpm");
        await using var client = await StartAsync(server);

        client.Mpm.LogEvent("p1", Features(("amount", 1)));
        await client.Mpm.FlushAsync();

        LedgerAssert.Balanced(client);
        var batch = Assert.Single(spans.To(server.BaseUrl), s => s.OperationName == "cometmpm.batch.send");
        Assert.Equal(ActivityStatusCode.Error, batch.Status);
        Assert.Equal("400", batch.GetTagItem("error.type"));
        Assert.Equal(400, batch.GetTagItem("http.response.status_code"));
        Assert.Equal(2, batch.GetTagItem("http.request.resend_count"));
    }

    [Fact]
    public async Task FirstEventLoggedInsideAnOperation_LaterBatchesAreNotChildrenOfThatOperation()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        using var callerSource = new ActivitySource("CometMpm.Tests.Caller");
        using var spans = new SpanRecorder(parentBased: false, "CometMpm", callerSource.Name);
        await using var client = await StartAsync(server, start: false); // no host start: the first LogEvent starts the loops

        ActivityTraceId callerTrace;
        using (var request = callerSource.StartActivity("request"))
        {
            callerTrace = request!.TraceId;
            client.Mpm.LogEvent("p1", Features(("amount", 1)));
        }

        Assert.True(await client.Mpm.FlushAsync());
        client.Mpm.LogEvent("p2", Features(("amount", 2)));
        Assert.True(await client.Mpm.FlushAsync());

        var batches = spans.To(server.BaseUrl).Where(s => s.OperationName == "cometmpm.batch.send").ToList();
        Assert.Equal(2, batches.Count);
        Assert.All(batches, b => Assert.NotEqual(callerTrace, b.TraceId));
    }

    [Fact]
    public async Task Spans_NeverCarryTheApiKey_EvenWhenTheServerEchoesIt()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        server.Enqueue(new ScriptedResponse(400, Body: $"{{\"msg\":\"key {ApiKey} is not allowed for {Uri.EscapeDataString(ApiKey)}\"}}"));
        using var spans = new SpanRecorder(parentBased: false, "CometMpm", HttpSource);
        await using var client = await StartAsync(server);

        client.Mpm.LogEvent("p1", Features(("amount", 1)));
        await client.Mpm.FlushAsync();

        LedgerAssert.Balanced(client);
        var recorded = spans.To(server.BaseUrl);
        Assert.Contains(recorded, s => s.OperationName == "cometmpm.batch.send" && s.Status == ActivityStatusCode.Error);
        foreach (var span in recorded)
        {
            var text = string.Join(" ", span.TagObjects.Select(t => $"{t.Key}={t.Value}")) + " " + span.StatusDescription + " " + span.DisplayName;
            Assert.DoesNotContain(ApiKey, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task WhenOnlyTheHttpClientIsTraced_TheLibrarysRequestsAreNotRoots_AndAParentBasedSamplerDropsThem()
    {
        // A tracer that records every HTTP span: the library's have a parent (an unrecorded one), none is a root.
        await using (var server = await ScriptedMpmServer.StartAsync())
        {
            using var everything = new SpanRecorder(parentBased: false, HttpSource);
            await using (var client = await StartAsync(server))
            {
                client.Mpm.LogEvent("p1", Features(("amount", 1)));
                Assert.True(await client.Mpm.FlushAsync());
            }

            var http = everything.To(server.BaseUrl);
            Assert.True(http.Count >= 2, $"expected the ping and the batch as HTTP spans, saw {http.Count}");
            Assert.All(http, s => Assert.NotEqual(default, s.ParentSpanId));
        }

        // OpenTelemetry's default sampler (parent-based): the library's HTTP spans are not recorded at all.
        await using (var server = await ScriptedMpmServer.StartAsync())
        {
            using var sampled = new SpanRecorder(parentBased: true, HttpSource);
            await using (var client = await StartAsync(server))
            {
                client.Mpm.LogEvent("p2", Features(("amount", 1)));
                Assert.True(await client.Mpm.FlushAsync());
            }

            Assert.Equal(2, server.Requests.Count);
            Assert.Empty(sampled.To(server.BaseUrl));
        }
    }

    [Fact]
    public async Task TwoClients_CountSeparately_EveryMeasurementCarriesTheClientAndModel()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        var settings = Settings(server.BaseUrl);
        settings["CometMpm:Models:fraud:ModelName"] = "fraud-model";
        settings["CometMpm:Models:churn:ModelName"] = "churn-model";
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddCometMpm("fraud");
        builder.Services.AddCometMpm("churn");
        using var host = builder.Build();
        var meterFactory = host.Services.GetRequiredService<IMeterFactory>();
        using var sent = new MetricCollector<long>(meterFactory, "CometMpm", "cometmpm.events.sent");
        using var enqueued = new MetricCollector<long>(meterFactory, "CometMpm", "cometmpm.events.enqueued");
        using var requests = new MetricCollector<long>(meterFactory, "CometMpm", "cometmpm.requests");
        await host.StartAsync();

        var fraud = host.Services.GetRequiredKeyedService<ICometMpm>("fraud");
        var churn = host.Services.GetRequiredKeyedService<ICometMpm>("churn");
        fraud.LogEvent("f1");
        fraud.LogEvent("f2");
        fraud.LogEvent("f3");
        churn.LogEvent("c1");
        Assert.True(await fraud.FlushAsync());
        Assert.True(await churn.FlushAsync());
        await host.StopAsync();

        foreach (var collector in new[] { sent, enqueued })
        {
            var byClient = collector.GetMeasurementSnapshot()
                .GroupBy(m => ((string)m.Tags["cometmpm.client"]!, (string)m.Tags["cometmpm.model"]!))
                .ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
            Assert.Equal(3, byClient[("fraud", "fraud-model")]);
            Assert.Equal(1, byClient[("churn", "churn-model")]);
            Assert.Equal(2, byClient.Count);
        }

        Assert.All(requests.GetMeasurementSnapshot(), m =>
        {
            Assert.Equal(200, m.Tags["http.response.status_code"]);
            Assert.Equal("payments", m.Tags["cometmpm.workspace"]);
            Assert.Equal("2.3.0", m.Tags["cometmpm.model_version"]);
        });
    }

    [Fact]
    public async Task DurationHistogram_AdvisesBucketsFromMillisecondsToMinutes()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        Assert.NotNull(client.Mpm); // the instruments exist once a client does
        IReadOnlyList<double>? boundaries = null;
        string? unit = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument is Histogram<double> { Name: "cometmpm.batch.duration" } histogram
                    && instrument.Meter.Scope == client.Host.Services.GetRequiredService<IMeterFactory>())
                {
                    boundaries = histogram.Advice?.HistogramBucketBoundaries;
                    unit = histogram.Unit;
                }
            },
        };
        listener.Start();

        Assert.Equal("s", unit);
        Assert.NotNull(boundaries);
        Assert.True(boundaries![0] <= 0.001, $"first bucket {boundaries[0]} s: a loopback answer needs millisecond buckets");
        Assert.True(boundaries[^1] >= 300, $"last bucket {boundaries[^1]} s: a batch retried for minutes needs minute buckets");
        Assert.Equal(boundaries.Order(), boundaries);
    }
}
