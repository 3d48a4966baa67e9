using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;

namespace CometMpm.LoadTest;

/// <summary>
/// An API under load on loopback, MPM off vs on. One API process per mode (IrisApi's work by default, <c>--app</c>), each
/// connected to one loopback sink process that takes the MPM batches. With 2+ cores the API processes run on the first half
/// of the CPUs and the load client and the sink on the other half (<c>taskset</c>), so the API's own CPU, which includes
/// the MPM sender, is what limits it, as on a real host where the load and the backend come from elsewhere. Every process
/// is warmed up first, then each round loads the modes one after the other (order alternating between rounds) for
/// <c>--duration</c> seconds. So the modes of one round see the same machine, and the ratios to <c>off</c> are taken per
/// round (paired), then their median. Load: <c>--rate 0</c> closed loop at saturation (wrk when installed, else a .NET
/// client); <c>--rate N</c> a fixed-rate open-loop client (<see cref="OpenLoopClient"/>). Reports requests/s, latency
/// percentiles, the API process's CPU and allocated bytes per request, and what the sink received per request. Modes:
/// <c>off</c>, <c>logevent</c>, <c>capture</c>, and <c>otel</c>, the same record through ILogger and OpenTelemetry's OTLP
/// exporter to the same sink (<see cref="ChildCommands.ServeApiAsync"/>). <c>--work-us 15,50,200</c> repeats the whole run
/// with that much calibrated CPU work added to every request (<see cref="Work"/>) and prints the cost curve: each mode's
/// requests/s as a share of off's at each level.
/// </summary>
internal static partial class ApiScenario
{
    private static readonly Dictionary<string, string> Bodies = new()
    {
        ["iris"] = """{"sepal_length":5.9,"sepal_width":3.0,"petal_length":4.2,"petal_width":1.5}""",
        ["loans"] = """{"amount":25000,"income":72000,"debtRatio":0.31,"creditScore":712,"age":41,"termMonths":60,"country":"PT","purpose":"car","hasCollateral":true,"segment":0}""",
    };

    public static async Task<int> RunAsync(Arguments options)
    {
        var application = options.String("app", "iris");
        if (!Bodies.TryGetValue(application, out var body))
        {
            throw new ArgumentException($"Unknown --app '{application}': use iris or loans.");
        }

        var modes = options.String("modes", "off,logevent,capture").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (modes.FirstOrDefault(m => m is not ("off" or "logevent" or "capture" or "otel")) is { } unknown)
        {
            throw new ArgumentException($"Unknown mode '{unknown}': use off, logevent, capture and/or otel.");
        }

        var workLevels = options.String("work-us", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray();
        var rounds = options.Int("rounds", 6);
        var duration = Math.Min(options.Int("duration", 5), 30);
        var warmup = options.Int("warmup", 30);
        var connections = options.Int("connections", 16);
        var rate = options.Int("rate", 0);
        var batch = options.Int("batch", 1000);
        var client = rate > 0 ? "open-loop" : options.String("client", File.Exists("/usr/bin/wrk") ? "wrk" : "dotnet");
        var (apiCpus, loadCpus) = options.Flag("no-pin") ? (null, null) : SplitCpus();
        var sinkCpus = options.String("sink-cpus", loadCpus ?? "") is { Length: > 0 } cpus ? cpus : null;
        var load = new LoadSpec(client, body, rate, connections, loadCpus);
        Console.WriteLine(rate > 0
            ? $"# api ({application}): POST /predict at {rate:N0} requests/s (open loop), {connections} connections, {warmup} s warm-up per process + {duration} s measured per mode, {rounds} round(s)"
            : $"# api ({application}): POST /predict at saturation (closed loop, {client}), {connections} connections, {warmup} s warm-up per process + {duration} s measured per mode, {rounds} round(s)");
        Console.WriteLine($"# CPUs: API {apiCpus ?? "any"}; load client {(client == "dotnet" ? "any (in this process)" : loadCpus ?? "any")}; sink {sinkCpus ?? "any"}; MPM batches of {batch:N0} events (MaxBatchTime 1 s); otel: batch log processor, batches of {batch:N0}, every 1 s, OTLP/HTTP protobuf");
        Console.WriteLine($"# {Machine.Describe()}");

        // One calibration for every level and process, so each mode does exactly the same work per request.
        var perMicrosecond = workLevels.Any(w => w > 0) ? Work.IterationsPerMicrosecond() : 0;
        if (workLevels.Length > 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# work: a xorshift spin added to every request before the model, {perMicrosecond:N0} iterations per µs (fastest of 25 trials here)"));
        }

        using var sink = await Child.StartPinnedAsync(sinkCpus, "sink", "--count");
        using var stats = new HttpClient { BaseAddress = sink.Url };
        var curve = new List<(int WorkUs, Dictionary<string, List<Measurement>> Results)>();
        foreach (var work in workLevels.Length > 0 ? workLevels : [-1])
        {
            var spin = work > 0 ? (long)Math.Round(work * perMicrosecond) : 0;
            if (work >= 0)
            {
                Console.WriteLine();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"## work {work} µs per request ({spin:N0} spin iterations)"));
                Console.WriteLine();
            }

            var level = new Level(application, modes, rounds, duration, warmup, batch, spin, apiCpus, load);
            curve.Add((work, await RunLevelAsync(level, sink, stats)));
        }

        if (workLevels.Length > 0)
        {
            PrintCostCurve(modes, curve);
        }

        Console.WriteLine($"# load average after: {Machine.LoadAverage()}");
        return 0;
    }

    /// <summary>One set of API processes (one per mode) at one work level: warm-up, paired rounds, the summary table.</summary>
    private static async Task<Dictionary<string, List<Measurement>>> RunLevelAsync(Level level, Child sink, HttpClient stats)
    {
        var apis = new Dictionary<string, Child>();
        try
        {
            foreach (var mode in level.Modes)
            {
                apis[mode] = await Child.StartPinnedAsync(
                    level.ApiCpus,
                    "serve-api",
                    "--app", level.Application,
                    "--mode", mode,
                    "--sink", sink.Url.ToString(),
                    "--batch", level.Batch.ToString(CultureInfo.InvariantCulture),
                    "--spin", level.Spin.ToString(CultureInfo.InvariantCulture));
            }

            foreach (var mode in level.Modes)
            {
                await LoadAsync(level.Load, new Uri(apis[mode].Url, "predict"), level.Warmup, static () => Task.CompletedTask);
            }

            await Task.Delay(SettleTime); // the last warm-up's final batch is not counted in the first measurement

            var results = level.Modes.ToDictionary(m => m, _ => new List<Measurement>());
            Console.WriteLine("| Round | Mode | Requests/s | p50 | p90 | p99 | API CPU per request | API CPU (cores) | Allocated per request | Records per request | Sent per request | Errors |");
            Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            for (var round = 1; round <= level.Rounds; round++)
            {
                foreach (var mode in round % 2 == 1 ? level.Modes : level.Modes.Reverse().ToArray())
                {
                    var api = apis[mode];
                    var cpu = TimeSpan.Zero;
                    long allocated = 0;
                    var sent = SinkStats.Zero;
                    var m = await LoadAsync(level.Load, new Uri(api.Url, "predict"), level.Duration, async () =>
                    {
                        cpu = api.CpuTime;
                        allocated = await AllocatedAsync(api);
                        sent = await SinkStats.ReadAsync(stats, mode);
                    });
                    await Task.Delay(SettleTime); // the sender's last partial batch belongs to this measurement
                    var used = api.CpuTime - cpu;
                    var allocatedNow = await AllocatedAsync(api);
                    var delivered = (await SinkStats.ReadAsync(stats, mode)) - sent;
                    var requests = Math.Max(1, m.Requests);
                    m = m with
                    {
                        CpuPerRequest = used / requests,
                        Cores = used / TimeSpan.FromSeconds(level.Duration),
                        AllocatedPerRequest = (double)(allocatedNow - allocated) / requests,
                        RecordsPerRequest = (double)(mode == "otel" ? delivered.OtlpRecords : delivered.MpmEvents) / requests,
                        SentPerRequest = (double)delivered.Bytes / requests,
                    };
                    results[mode].Add(m);
                    if (m.Errors > 0)
                    {
                        Console.WriteLine($"# warning: {m.Errors} failed requests in round {round}, mode {mode}");
                    }

                    Console.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"| {round} | {mode} | {m.RequestsPerSecond:N0} | {Ms(m.P50)} | {Ms(m.P90)} | {Ms(m.P99)} | {m.CpuPerRequest.TotalMicroseconds:N1} µs | {m.Cores:N2} | {m.AllocatedPerRequest:N0} B | {m.RecordsPerRequest:N3} | {m.SentPerRequest:N0} B | {m.Errors} |"));
                }
            }

            Console.WriteLine();
            Console.WriteLine("Medians over the rounds; \"vs off\" is the median of the per-round ratios to off. Records per request: what the sink");
            Console.WriteLine("received (MPM events, or OTLP log records for otel) per request answered; below 1 means records were dropped or late.");
            Console.WriteLine();
            Console.WriteLine("| Mode | Requests/s | vs off | p50 | p99 | p99 vs off | API CPU per request | vs off | Allocated per request | vs off | Records per request |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            var baseline = results.GetValueOrDefault("off");
            foreach (var mode in level.Modes)
            {
                var runs = results[mode];
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"| {mode} | {Median(runs.Select(r => r.RequestsPerSecond)):N0} | {PairedRatio(runs, baseline, r => r.RequestsPerSecond)} | {Ms(Median(runs.Select(r => r.P50)))} | {Ms(Median(runs.Select(r => r.P99)))} | {PairedRatio(runs, baseline, r => r.P99.TotalMilliseconds)} | {Median(runs.Select(r => r.CpuPerRequest)).TotalMicroseconds:N2} µs | {PairedRatio(runs, baseline, r => r.CpuPerRequest.TotalMicroseconds)} | {Median(runs.Select(r => r.AllocatedPerRequest)):N0} B | {PairedRatio(runs, baseline, r => r.AllocatedPerRequest)} | {Median(runs.Select(r => r.RecordsPerRequest)):N3} |"));
            }

            return results;
        }
        finally
        {
            foreach (var api in apis.Values)
            {
                api.Dispose();
            }
        }
    }

    /// <summary>
    /// What monitoring costs an endpoint by how much CPU the endpoint itself uses: per work level, off's CPU per request
    /// (the endpoint's own cost, work included) and each mode's requests/s as a share of off's, with its extra CPU per
    /// request (medians of the per-round ratios and differences).
    /// </summary>
    private static void PrintCostCurve(string[] modes, List<(int WorkUs, Dictionary<string, List<Measurement>> Results)> curve)
    {
        var others = modes.Where(m => m != "off").ToArray();
        Console.WriteLine();
        Console.WriteLine("## Cost curve: requests/s as a share of off's (extra API CPU per request), by work per request");
        Console.WriteLine();
        if (!modes.Contains("off"))
        {
            Console.WriteLine("(no off mode in --modes: nothing to compare with)");
            return;
        }

        Console.WriteLine($"| Work added | off: API CPU per request | off: requests/s | {string.Join(" | ", others)} |");
        Console.WriteLine($"|---:|---:|---:|{string.Concat(others.Select(_ => "---:|"))}");
        foreach (var (work, results) in curve)
        {
            var off = results["off"];
            var cells = others.Select(m => $"{PairedRatio(results[m], off, r => r.RequestsPerSecond)} ({PairedDifference(results[m], off, r => r.CpuPerRequest.TotalMicroseconds)} µs)");
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {work} µs | {Median(off.Select(r => r.CpuPerRequest)).TotalMicroseconds:N1} µs | {Median(off.Select(r => r.RequestsPerSecond)):N0} | {string.Join(" | ", cells)} |"));
        }

        Console.WriteLine();
        Console.WriteLine("Read the row whose off CPU per request is nearest your endpoint's. At saturation (--rate 0) the share is about");
        Console.WriteLine("C / (C + extra) for an endpoint of C µs; below saturation requests/s stay at the offered rate and the cost is CPU and latency.");
    }

    private static async Task<long> AllocatedAsync(Child api) =>
        long.Parse(await AllocatedClient.GetStringAsync(new Uri(api.Url, "control/allocated")), CultureInfo.InvariantCulture);

    private static readonly HttpClient AllocatedClient = new();

    /// <summary>After a measured load, the sender's last batch (MaxBatchTime 1 s) is still counted in that measurement.</summary>
    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// The first half of the CPUs this process may use for the API, the rest for the load client and the sink. (With
    /// hyperthreading the halves may be siblings of the same cores; this VM has none.)
    /// </summary>
    private static (string? Api, string? Load) SplitCpus()
    {
        var allowed = AllowedCpus();
        if (allowed.Count < 2)
        {
            return (null, null);
        }

        var half = allowed.Count / 2;
        return (string.Join(',', allowed.Take(half)), string.Join(',', allowed.Skip(half)));
    }

    /// <summary>The CPUs of this process's affinity mask (<c>Cpus_allowed_list</c>, e.g. "0-3,6").</summary>
    private static List<int> AllowedCpus()
    {
        var line = File.Exists("/proc/self/status")
            ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))
            : null;
        if (line is null)
        {
            return [.. Enumerable.Range(0, Environment.ProcessorCount)];
        }

        var cpus = new List<int>();
        foreach (var range in line["Cpus_allowed_list:".Length..].Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var bounds = range.Split('-');
            var first = int.Parse(bounds[0], CultureInfo.InvariantCulture);
            var last = bounds.Length > 1 ? int.Parse(bounds[1], CultureInfo.InvariantCulture) : first;
            cpus.AddRange(Enumerable.Range(first, last - first + 1));
        }

        return cpus;
    }

    private static string PairedRatio(List<Measurement> runs, List<Measurement>? baseline, Func<Measurement, double> value)
    {
        if (baseline is null || baseline.Count != runs.Count)
        {
            return "-";
        }

        return Median(runs.Zip(baseline, (r, b) => value(b) > 0 ? value(r) / value(b) : double.NaN)).ToString("P1", CultureInfo.InvariantCulture);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static TimeSpan Median(IEnumerable<TimeSpan> values) => TimeSpan.FromTicks((long)Median(values.Select(v => (double)v.Ticks)));

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("N3", CultureInfo.InvariantCulture) + " ms";

    private static string PairedDifference(List<Measurement> runs, List<Measurement>? baseline, Func<Measurement, double> value)
    {
        if (baseline is null || baseline.Count != runs.Count)
        {
            return "-";
        }

        var difference = Median(runs.Zip(baseline, (r, b) => value(r) - value(b)));
        return (difference >= 0 ? "+" : "") + difference.ToString("N1", CultureInfo.InvariantCulture);
    }

    /// <summary>Runs one load; <paramref name="measuring"/> is called when its measured part starts.</summary>
    private static async Task<Measurement> LoadAsync(LoadSpec load, Uri url, int seconds, Func<Task> measuring)
    {
        if (load.Client == "open-loop")
        {
            return await OpenLoopAsync(load, url, seconds, measuring);
        }

        await measuring();
        return load.Client == "wrk" ? await WrkAsync(load, url, seconds) : await DotnetClientAsync(url, load.Body, load.Connections, seconds);
    }

    private static async Task<Measurement> OpenLoopAsync(LoadSpec load, Uri url, int seconds, Func<Task> measuring)
    {
        var info = Child.Command(
            load.Cpus,
            "load",
            "--url", url.ToString(),
            "--body", load.Body,
            "--rate", load.Rate.ToString(CultureInfo.InvariantCulture),
            "--connections", load.Connections.ToString(CultureInfo.InvariantCulture),
            "--warmup", "1", // the client's own JIT warm-up, at the same rate, before the measured seconds
            "--duration", seconds.ToString(CultureInfo.InvariantCulture));
        using var child = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + 60));
        string? result = null;
        try
        {
            while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line == "MEASURING")
                {
                    await measuring();
                }
                else if (line.StartsWith("RESULT ", StringComparison.Ordinal))
                {
                    result = line.Trim();
                }
            }

            await child.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            throw new TimeoutException($"The load client did not finish within {seconds + 60} s.");
        }

        var r = OpenLoopClient.Result.Parse(result ?? throw new InvalidOperationException($"The load client printed no result (exit code {child.ExitCode})."));
        return new Measurement(r.RequestsPerSecond, r.P50, r.P90, r.P99, r.Requests, r.Errors, TimeSpan.Zero, 0);
    }

    private static async Task<Measurement> WrkAsync(LoadSpec load, Uri url, int seconds)
    {
        var script = Path.Combine(Path.GetTempPath(), $"cometmpm-loadtest-post-{Environment.ProcessId}.lua");
        await File.WriteAllTextAsync(script, $"wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '{load.Body}'\n");
        var info = Child.Pinned(load.Cpus, "wrk", "-t1", $"-c{load.Connections}", $"-d{seconds}s", "--latency", "-s", script, url.ToString());
        using var wrk = Process.Start(info)!;
        var output = await wrk.StandardOutput.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        var rps = double.Parse(RequestsPerSecond().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var requests = long.Parse(RequestCount().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var errors = NonSuccess().Match(output) is { Success: true } e ? long.Parse(e.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        return new Measurement(rps, Percentile(output, "50"), Percentile(output, "90"), Percentile(output, "99"), requests, errors, TimeSpan.Zero, 0);
    }

    private static TimeSpan Percentile(string wrkOutput, string percent)
    {
        var match = Regex.Match(wrkOutput, $@"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch
        {
            "us" => TimeSpan.FromMicroseconds(value),
            "ms" => TimeSpan.FromMilliseconds(value),
            _ => TimeSpan.FromSeconds(value),
        };
    }

    /// <summary>A closed-loop client: each connection sends the next request when the previous one is answered.</summary>
    private static async Task<Measurement> DotnetClientAsync(Uri url, string json, int connections, int seconds)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, UseProxy = false };
        using var http = new HttpClient(handler);
        var body = Encoding.UTF8.GetBytes(json);
        var stop = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
        long errors = 0;
        var workers = Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
        {
            var latencies = new List<long>(1 << 16);
            while (Stopwatch.GetTimestamp() < stop)
            {
                var start = Stopwatch.GetTimestamp();
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await http.PostAsync(url, content);
                await response.Content.CopyToAsync(Stream.Null);
                latencies.Add(Stopwatch.GetTimestamp() - start);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref errors);
                }
            }

            return latencies;
        })).ToArray();
        var clock = Stopwatch.StartNew();
        var all = (await Task.WhenAll(workers)).SelectMany(l => l).Order().ToArray();
        clock.Stop();
        TimeSpan At(double q) => all.Length == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(0, all[Math.Min(all.Length - 1, (int)(q * all.Length))]);
        return new Measurement(all.Length / clock.Elapsed.TotalSeconds, At(0.50), At(0.90), At(0.99), all.Length, errors, TimeSpan.Zero, 0);
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestCount();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex NonSuccess();

    private sealed record Measurement(double RequestsPerSecond, TimeSpan P50, TimeSpan P90, TimeSpan P99, long Requests, long Errors, TimeSpan CpuPerRequest, double Cores)
    {
        /// <summary>Bytes the API process allocated (all threads: request, sender, exporter) per request answered.</summary>
        public double AllocatedPerRequest { get; init; }

        /// <summary>Records the sink received from this mode (MPM events, or OTLP log records) per request answered.</summary>
        public double RecordsPerRequest { get; init; }

        /// <summary>Request body bytes the sink received per request answered (JSON batches, or OTLP protobuf).</summary>
        public double SentPerRequest { get; init; }
    }

    private sealed record LoadSpec(string Client, string Body, int Rate, int Connections, string? Cpus);

    private sealed record Level(string Application, string[] Modes, int Rounds, int Duration, int Warmup, int Batch, long Spin, string? ApiCpus, LoadSpec Load);

    /// <summary>
    /// The sink's counters for one mode's process, which sends under its own first path segment
    /// (<c>GET /control/stats/{mode}</c>: requests bytes otlpRequests otlpBytes otlpRecords mpmEvents).
    /// </summary>
    private readonly record struct SinkStats(long Requests, long Bytes, long OtlpRecords, long MpmEvents)
    {
        public static SinkStats Zero => default;

        public static async Task<SinkStats> ReadAsync(HttpClient sink, string mode)
        {
            var f = (await sink.GetStringAsync(new Uri($"control/stats/{mode}", UriKind.Relative))).Split(' ');
            long F(int i) => long.Parse(f[i], CultureInfo.InvariantCulture);
            return new SinkStats(F(0), F(1), F(4), F(5));
        }

        public static SinkStats operator -(SinkStats a, SinkStats b) =>
            new(a.Requests - b.Requests, a.Bytes - b.Bytes, a.OtlpRecords - b.OtlpRecords, a.MpmEvents - b.MpmEvents);
    }
}
