using System.Diagnostics;
using System.Text.Json;
using CometMpm.Emulator;
using CometMpm.Tests.Infrastructure;
using Xunit.Abstractions;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

public sealed class OutboxTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cometmpm-outbox-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private Dictionary<string, string?> DownSettings(Dictionary<string, string?>? extra = null)
    {
        var settings = Settings(new Uri($"http://127.0.0.1:{StartupPingTests.DeadPort()}/"));
        settings["CometMpm:Outbox:Directory"] = _dir;
        settings["CometMpm:MaxRetryAttempts"] = "0";
        settings["CometMpm:PingTimeout"] = "00:00:00.500";
        settings["CometMpm:MaxBatchSize"] = "10";
        foreach (var (k, v) in extra ?? [])
        {
            settings[k] = v;
        }

        return settings;
    }

    [Fact]
    public async Task Directory_IsCreatedOwnerOnly()
    {
        await using var client = await StartAsync(DownSettings());
        client.Mpm.LogEvent("p1");
        await client.Mpm.FlushAsync();

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_dir, "ready")));
        }

        Assert.Single(Directory.GetFiles(Path.Combine(_dir, "ready")));
    }

    [Fact]
    public async Task SizeCap_DropsTheOldestBatchesAndCountsThem()
    {
        await using var client = await StartAsync(DownSettings(new() { ["CometMpm:Outbox:MaxBytes"] = "4000" }));
        using var dropped = client.Collect("cometmpm.events.dropped");
        using var files = client.Collect("cometmpm.outbox.files");
        using var bytes = client.Collect("cometmpm.outbox.bytes");

        for (var i = 0; i < 200; i++)
        {
            client.Mpm.LogEvent($"p{i:D3}", Features(("padding", new string('x', 40))));
        }

        await client.Mpm.FlushAsync();

        var full = dropped.GetMeasurementSnapshot().Where(m => (string?)m.Tags["error.type"] == "outbox_full").Sum(m => m.Value);
        Assert.True(full > 0);
        var left = Directory.GetFiles(Path.Combine(_dir, "ready")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(200 - full, left.Sum(f => JsonDocument.Parse(File.ReadAllBytes(f)).RootElement.GetProperty("data").GetArrayLength()));
        Assert.True(left.Sum(f => new FileInfo(f).Length) <= 4000);

        // The newest survive.
        Assert.Contains("p199", File.ReadAllText(left[^1]), StringComparison.Ordinal);
        files.RecordObservableInstruments();
        bytes.RecordObservableInstruments();
        Assert.Equal(left.Count, files.LastMeasurement!.Value);
        Assert.Equal(left.Sum(f => new FileInfo(f).Length), bytes.LastMeasurement!.Value);
    }

    [Fact]
    public async Task AgeCap_DropsExpiredBatchesAndCountsThem()
    {
        var time = new ObservableTimeProvider();
        await using (var first = await StartAsync(DownSettings(), timeProvider: time))
        {
            first.Mpm.LogEvent("old-1");
            first.Mpm.LogEvent("old-2");
            await first.Mpm.EndAsync(TimeSpan.FromSeconds(5));
        }

        Assert.Single(Directory.GetFiles(Path.Combine(_dir, "ready")));
        time.Advance(TimeSpan.FromDays(8));
        await using var second = await StartAsync(DownSettings(), timeProvider: time, start: false);
        using var dropped = second.Collect("cometmpm.events.dropped");
        await second.Host.StartAsync();
        second.Mpm.LogEvent("new-1");
        await second.Mpm.FlushAsync();

        var expired = dropped.GetMeasurementSnapshot().Where(m => (string?)m.Tags["error.type"] == "outbox_expired").Sum(m => m.Value);
        Assert.Equal(2, expired);
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(_dir, "ready")), f => File.ReadAllText(f).Contains("old-1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TwoClientsSharingTheDirectory_NeitherCorruptNorDoubleSend()
    {
        // Both fill the outbox while the backend is down...
        var down = DownSettings();
        await using (var a = await StartAsync(down))
        await using (var b = await StartAsync(down))
        {
            for (var i = 0; i < 300; i++)
            {
                a.Mpm.LogEvent($"a-{i}");
                b.Mpm.LogEvent($"b-{i}");
            }

            await Task.WhenAll(a.Mpm.EndAsync(TimeSpan.FromSeconds(5)), b.Mpm.EndAsync(TimeSpan.FromSeconds(5)));
        }

        // ...then two replicas replay the same directory at once.
        await using var emulator = await MpmEmulator.StartAsync();
        var up = new Dictionary<string, string?>(Settings(emulator.BaseUrl)) { ["CometMpm:Outbox:Directory"] = _dir };
        await using var c = await StartAsync(up);
        await using var d = await StartAsync(up);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while ((await emulator.Client.GetModelsAsync()).Sum(m => m.Predictions) < 600 && !cts.IsCancellationRequested)
        {
            await Task.Delay(100);
        }

        Assert.Equal(600, (await emulator.Client.GetModelsAsync()).Sum(m => m.Predictions));
        var posted = (await emulator.Client.GetRequestsAsync(limit: 500)).Where(r => r.Path.EndsWith("events/batch", StringComparison.Ordinal)).Sum(r => r.BodySize);
        var onDisk = 600 * 0; // every batch was sent exactly once: total events in the requests equals 600
        Assert.True(posted > onDisk);
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "ready")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "processing"), "*.json", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Shutdown_WithTheBackendDown_WritesWhatIsLeftToTheOutbox()
    {
        var settings = DownSettings(new() { ["CometMpm:MaxRetryAttempts"] = "50", ["CometMpm:RetryBaseDelay"] = "00:00:01" });
        await using var client = await StartAsync(settings);
        using var dropped = client.Collect("cometmpm.events.dropped");
        for (var i = 0; i < 25; i++)
        {
            client.Mpm.LogEvent($"s-{i}");
        }

        Assert.False(await client.Mpm.EndAsync(TimeSpan.FromSeconds(1)));

        Assert.Empty(dropped.GetMeasurementSnapshot());
        Assert.Equal(25, Directory.GetFiles(Path.Combine(_dir, "ready")).Sum(f => JsonDocument.Parse(File.ReadAllBytes(f)).RootElement.GetProperty("data").GetArrayLength()));
    }
}

public sealed class MetricsTests
{
    [Fact]
    public async Task EveryInstrument_IsReported()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        using var enqueued = client.Collect("cometmpm.events.enqueued");
        using var sent = client.Collect("cometmpm.events.sent");
        using var requests = client.Collect("cometmpm.requests");
        using var retried = client.Collect("cometmpm.requests.retried");
        using var depth = client.Collect("cometmpm.queue.depth");
        var meterFactory = (System.Diagnostics.Metrics.IMeterFactory)client.Host.Services.GetService(typeof(System.Diagnostics.Metrics.IMeterFactory))!;
        using var duration = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<double>(meterFactory, "CometMpm", "cometmpm.batch.duration");
        server.Enqueue(new ScriptedResponse(503));

        for (var i = 0; i < 3; i++)
        {
            client.Mpm.LogEvent($"m{i}");
        }

        depth.RecordObservableInstruments();
        Assert.InRange(depth.LastMeasurement!.Value, 0, 3);
        Assert.True(await client.Mpm.FlushAsync());
        depth.RecordObservableInstruments();

        Assert.Equal(3, enqueued.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(3, sent.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(1, retried.GetMeasurementSnapshot().Sum(m => m.Value));
        var request = Assert.Single(requests.GetMeasurementSnapshot());
        Assert.Equal(200, request.Tags["http.response.status_code"]);
        Assert.False(request.Tags.ContainsKey("error.type"));
        Assert.Equal(0, depth.LastMeasurement!.Value);
        Assert.True(Assert.Single(duration.GetMeasurementSnapshot()).Value > 0);
    }
}

public sealed class QueueBoundTests
{
    [Fact]
    public async Task ByteBound_RefusesEventsPastTheBytes_EvenBelowTheCount()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?>
        {
            ["CometMpm:MaxQueueBytes"] = "20000",
            ["CometMpm:MaxBatchSize"] = "1",
        });
        await client.Client.HealthChecked;
        server.Enqueue(new ScriptedResponse(200, Delay: TimeSpan.FromSeconds(1)));

        var results = Enumerable.Range(0, 50).Select(i => client.Mpm.LogEvent($"b{i}", Features(("blob", new string('x', 1000))))).ToList();

        Assert.Contains(results, r => r.Status == LogStatus.QueueFull);
        Assert.True(client.Client.Queue.Bytes <= 20000);
        Assert.True(await client.Mpm.FlushAsync());
    }

    [Fact]
    public async Task WaitPolicy_WaitsForSpaceInsteadOfDropping()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?>
        {
            ["CometMpm:QueueCapacity"] = "5",
            ["CometMpm:MaxBatchSize"] = "5",
            ["CometMpm:FullQueuePolicy"] = "Wait",
            ["CometMpm:FullQueueWaitTimeout"] = "00:00:30",
        });
        using var dropped = client.Collect("cometmpm.events.dropped");

        var results = Enumerable.Range(0, 200).Select(i => client.Mpm.LogEvent($"w{i}")).ToList();

        Assert.All(results, r => Assert.True(r.IsAccepted));
        Assert.True(await client.Mpm.FlushAsync());
        Assert.Equal(200, server.Batches.Sum(b => b.Events.Count));
        Assert.Empty(dropped.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task MaxRequestBytes_SplitsABatchBeforeSending_And413SplitsToo()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?> { ["CometMpm:MaxRequestBytes"] = "4096" });
        server.Enqueue(new ScriptedResponse(413));

        for (var i = 0; i < 40; i++)
        {
            client.Mpm.LogEvent($"r{i}", Features(("blob", new string('y', 200))));
        }

        Assert.True(await client.Mpm.FlushAsync());

        var batches = server.Batches;
        Assert.All(batches, b => Assert.True(System.Text.Encoding.UTF8.GetByteCount(b.Body) <= 4096));
        Assert.Equal(40, batches.Skip(1).Sum(b => b.Events.Count)); // the first (refused with 413) was split and resent
    }
}

/// <summary>Memory stays within the configured bounds when the backend is down and events keep coming.</summary>
[Collection(nameof(EnvironmentVariables))] // runs alone: it measures the process
public sealed class MemoryBoundTests(ITestOutputHelper output)
{
    [Fact]
    public async Task BackendDown_50000EventsPerSecondFor30Seconds_StaysWithinBounds_AndCountsDrops()
    {
        const long maxQueueBytes = 32L * 1024 * 1024;
        var settings = Settings(new Uri($"http://127.0.0.1:{StartupPingTests.DeadPort()}/"));
        settings["CometMpm:MaxQueueBytes"] = maxQueueBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["CometMpm:PingTimeout"] = "00:00:00.500";
        settings["CometMpm:RetryBaseDelay"] = "00:00:00.100";
        await using var client = await StartAsync(settings);
        // A summing listener: a MetricCollector would keep 1.5 million measurements and skew the measurement.
        long accepted = 0;
        long queueFull = 0;
        long refused = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "CometMpm" && instrument.Name is "cometmpm.events.enqueued" or "cometmpm.events.dropped")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "cometmpm.events.enqueued")
            {
                Interlocked.Add(ref accepted, value);
            }
            else if (Reason(tags) == "queue_full")
            {
                Interlocked.Add(ref queueFull, value);
            }
        });
        listener.Start();
        static string? Reason(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "error.type")
                {
                    return tag.Value as string;
                }
            }

            return null;
        }

        var process = Process.GetCurrentProcess();
        GC.Collect();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peakHeap = 0;
        long peakQueueBytes = 0;
        long offered = 0;
        var features = Features(("a", 1.5), ("b", 2), ("c", "category"), ("d", true), ("e", 3.25), ("f", "other"), ("g", 7L), ("h", false), ("i", 0.5), ("j", "x"));
        var stopwatch = Stopwatch.StartNew();
        for (var second = 0; second < 30; second++)
        {
            for (var i = 0; i < 50_000; i++)
            {
                if (client.Mpm.LogEvent($"mem-{offered++}", features).Status == LogStatus.QueueFull)
                {
                    refused++;
                }
            }

            // Retained memory (after a full collection), not the garbage the producer loop leaves behind.
            peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(forceFullCollection: true) - baseline);
            peakQueueBytes = Math.Max(peakQueueBytes, client.Client.Queue.Bytes);
            var wait = TimeSpan.FromSeconds(second + 1) - stopwatch.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }
        }

        process.Refresh();
        output.WriteLine($"offered {offered} in {stopwatch.Elapsed.TotalSeconds:F1} s; accepted {accepted}; dropped queue_full {queueFull}; peak queue bytes {peakQueueBytes / 1048576.0:F1} MiB (cap {maxQueueBytes / 1048576} MiB); peak retained managed heap growth {peakHeap / 1048576.0:F1} MiB; working set {process.WorkingSet64 / 1048576.0:F0} MiB");

        Assert.Equal(offered, accepted + refused);
        Assert.Equal(refused, queueFull); // every refused event is counted in the metric
        Assert.True(queueFull > 0);
        Assert.True(peakQueueBytes <= maxQueueBytes);
        Assert.True(peakHeap < 2 * maxQueueBytes, $"peak retained heap growth {peakHeap}");
    }
}
