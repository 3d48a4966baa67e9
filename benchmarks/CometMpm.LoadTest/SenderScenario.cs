using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CometMpm.LoadTest;

/// <summary>
/// The sender's sustained delivery rate. The sink runs in a child process and holds the client's start-up ping, so the
/// sender does not start while this process logs the events (the queue is sized to take them all). Then the gate
/// opens and the run is timed until <c>FlushAsync</c> reports every event delivered. This process then does nothing but
/// send, so its CPU time over the run is the sender's: serialization, HTTP, GC. Each run is bounded to 30 s.
/// </summary>
internal static class SenderScenario
{
    public static async Task<int> RunAsync(Arguments options)
    {
        var events = options.Int("events", 1_000_000);
        var batch = options.Int("batch", 1000);
        var features = options.Int("features", 10);
        var runs = options.Int("runs", 3);
        Console.WriteLine($"# sender: {events:N0} events of {features} input + 2 output features, batches of {batch:N0}, loopback sink");
        Console.WriteLine($"# {Machine.Describe()}");
        Console.WriteLine("| Run | Events/s | MB/s (JSON) | Requests | Client CPU per event | Client CPU (cores) | Sink CPU (cores) | Elapsed |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        var rates = new List<double>();

        // A short unmeasured run first, so the JIT and the HTTP stack are warm.
        await RunOnceAsync(Math.Min(events, 100_000), batch, features, options.Flag("verbose"));
        for (var run = 1; run <= runs; run++)
        {
            var result = await RunOnceAsync(events, batch, features, options.Flag("verbose"));
            rates.Add(result.EventsPerSecond);
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {run} | {result.EventsPerSecond:N0} | {result.Megabytes / result.Elapsed.TotalSeconds:N1} | {result.Requests:N0} | {result.ClientCpu.TotalMicroseconds / events:N2} µs | {result.ClientCpu / result.Elapsed:N2} | {result.SinkCpu / result.Elapsed:N2} | {result.Elapsed.TotalSeconds:N2} s |"));
        }

        rates.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# median {rates[rates.Count / 2]:N0} events/s; load average after: {Machine.LoadAverage()}"));
        return 0;
    }

    private static async Task<Result> RunOnceAsync(int events, int batch, int features, bool verbose)
    {
        using var sink = await Child.StartAsync("sink", "--gate");
        var services = new ServiceCollection();
        services.AddLogging(logging =>
        {
            if (verbose)
            {
                logging.AddConsole();
            }
        });
        services.AddCometMpm(mpm =>
        {
            mpm.ApiKey = "load-test";
            mpm.WorkspaceName = "load";
            mpm.ModelName = "loans";
            mpm.ModelVersion = "1";
            mpm.UrlOverride = sink.Url;
            mpm.MaxBatchSize = batch;
            mpm.MaxBatchTime = TimeSpan.FromSeconds(1);
            mpm.QueueCapacity = Math.Max(events, batch);
            mpm.MaxQueueBytes = 16L * 1024 * 1024 * 1024;
            mpm.PingTimeout = TimeSpan.FromMinutes(5);
        });
        await using var provider = services.BuildServiceProvider();
        var mpm = provider.GetRequiredService<ICometMpm>();

        // 64 distinct inputs, 40% numbers, 40% strings, 20% bools, as the BenchmarkDotNet suites use.
        var inputs = Enumerable.Range(0, 64).Select(i => Enumerable.Range(0, features).ToDictionary(
            f => $"feature_{f:D3}",
            f => (f % 10) switch
            {
                < 4 => (object?)((i * 0.37) + (f * 1.5)),
                < 8 => $"value-{(i + f) % 50}",
                _ => (i + f) % 2 == 0,
            })).ToArray();
        var outputs = new Dictionary<string, object?> { ["value"] = "approve", ["probability"] = 0.87 };
        for (var i = 0; i < events; i++)
        {
            var result = mpm.LogEvent(string.Create(CultureInfo.InvariantCulture, $"0193c1a2-7b3c-7def-8000-{i:D12}"), inputs[i % inputs.Length], outputs);
            if (!result.IsAccepted)
            {
                throw new InvalidOperationException($"Event {i} was refused: {result}");
            }
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var http = new HttpClient();
        var process = Process.GetCurrentProcess();
        var sinkCpu = sink.CpuTime;
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        using (await http.PostAsync(new Uri(sink.Url, "control/open"), null))
        {
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var delivered = await mpm.FlushAsync(timeout.Token);
        clock.Stop();
        process.Refresh();
        var clientCpu = process.TotalProcessorTime - cpu;
        var sinkCpuUsed = sink.CpuTime - sinkCpu;
        if (!delivered)
        {
            throw new InvalidOperationException("Not every event was delivered within 30 s.");
        }

        var stats = (await http.GetStringAsync(new Uri(sink.Url, "control/stats"))).Split(' ');
        var requests = long.Parse(stats[0], CultureInfo.InvariantCulture) - 1; // less the ping
        var bytes = long.Parse(stats[1], CultureInfo.InvariantCulture);
        return new Result(events / clock.Elapsed.TotalSeconds, bytes / 1e6, requests, clientCpu, sinkCpuUsed, clock.Elapsed);
    }

    private sealed record Result(double EventsPerSecond, double Megabytes, long Requests, TimeSpan ClientCpu, TimeSpan SinkCpu, TimeSpan Elapsed);
}
