using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;

namespace CometMpm.LoadTest;

/// <summary>
/// A minimal API under load on loopback, MPM off vs on. Per round and mode: a fresh API process (connected to a loopback
/// sink process that takes the MPM batches), a warm-up, then a measured run of <c>--duration</c> seconds (at most 30) with
/// wrk (when installed, else a .NET closed-loop client with the same number of connections). Modes alternate within a
/// round, so a change in the machine's load affects them alike. Reports requests/s, p50/p99 latency and the API
/// process's CPU per request, and the ratios to <c>off</c>.
/// </summary>
internal static partial class ApiScenario
{
    private const string Body = """{"amount":25000,"income":72000,"debtRatio":0.31,"creditScore":712,"age":41,"termMonths":60,"country":"PT","purpose":"car","hasCollateral":true,"segment":0}""";

    public static async Task<int> RunAsync(Arguments options)
    {
        var modes = options.String("modes", "off,logevent,capture").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var rounds = options.Int("rounds", 3);
        var duration = Math.Min(options.Int("duration", 10), 30);
        var warmup = options.Int("warmup", 3);
        var connections = options.Int("connections", 16);
        var client = options.String("client", File.Exists("/usr/bin/wrk") ? "wrk" : "dotnet");
        Console.WriteLine($"# api: POST /predict (10-property JSON input), {connections} connections, {warmup} s warm-up + {duration} s measured, {rounds} round(s), client {client}");
        Console.WriteLine($"# {Machine.Describe()}");

        using var sink = await Child.StartAsync("sink");
        var results = modes.ToDictionary(m => m, _ => new List<Measurement>());
        Console.WriteLine("| Round | Mode | Requests/s | p50 | p99 | API CPU per request | Errors |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        for (var round = 1; round <= rounds; round++)
        {
            // Alternate the order: off, on, on, off, ...
            var order = round % 2 == 1 ? modes : modes.Reverse().ToArray();
            foreach (var mode in order)
            {
                using var api = await Child.StartAsync("serve-api", "--mode", mode, "--sink", sink.Url.ToString());
                var url = new Uri(api.Url, "predict");
                await LoadAsync(client, url, connections, warmup);
                var cpu = api.CpuTime;
                var measurement = await LoadAsync(client, url, connections, duration);
                measurement = measurement with { CpuPerRequest = (api.CpuTime - cpu) / Math.Max(1, measurement.Requests) };
                results[mode].Add(measurement);
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"| {round} | {mode} | {measurement.RequestsPerSecond:N0} | {Ms(measurement.P50)} | {Ms(measurement.P99)} | {measurement.CpuPerRequest.TotalMicroseconds:N1} µs | {measurement.Errors} |"));
            }
        }

        Console.WriteLine();
        Console.WriteLine("| Mode | Requests/s (median) | vs off | p50 | p99 (median) | vs off | API CPU per request |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        var baseline = modes.Contains("off") ? Median(results["off"]) : null;
        foreach (var mode in modes)
        {
            var m = Median(results[mode]);
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {mode} | {m.RequestsPerSecond:N0} | {Ratio(m.RequestsPerSecond, baseline?.RequestsPerSecond)} | {Ms(m.P50)} | {Ms(m.P99)} | {Ratio(m.P99.TotalMilliseconds, baseline?.P99.TotalMilliseconds)} | {m.CpuPerRequest.TotalMicroseconds:N1} µs |"));
        }

        Console.WriteLine($"# load average after: {Machine.LoadAverage()}");
        return 0;
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("N3", CultureInfo.InvariantCulture) + " ms";

    private static string Ratio(double value, double? baseline) =>
        baseline is { } b && b > 0 ? (value / b).ToString("P1", CultureInfo.InvariantCulture) : "-";

    private static Measurement Median(List<Measurement> runs)
    {
        static T Mid<T>(IEnumerable<T> values) => values.Order().ElementAt(values.Count() / 2);
        return new Measurement(
            Mid(runs.Select(r => r.RequestsPerSecond)),
            Mid(runs.Select(r => r.P50)),
            Mid(runs.Select(r => r.P99)),
            Mid(runs.Select(r => r.Requests)),
            Mid(runs.Select(r => r.Errors)),
            Mid(runs.Select(r => r.CpuPerRequest)));
    }

    private static Task<Measurement> LoadAsync(string client, Uri url, int connections, int seconds) =>
        client == "wrk" ? WrkAsync(url, connections, seconds) : DotnetClientAsync(url, connections, seconds);

    private static async Task<Measurement> WrkAsync(Uri url, int connections, int seconds)
    {
        var script = Path.Combine(Path.GetTempPath(), "cometmpm-loadtest-post.lua");
        await File.WriteAllTextAsync(script, $"wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '{Body}'\n");
        var info = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-t1", $"-c{connections}", $"-d{seconds}s", "--latency", "-s", script, url.ToString() })
        {
            info.ArgumentList.Add(arg);
        }

        using var wrk = Process.Start(info)!;
        var output = await wrk.StandardOutput.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        var rps = double.Parse(RequestsPerSecond().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var requests = long.Parse(RequestCount().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var errors = NonSuccess().Match(output) is { Success: true } e ? long.Parse(e.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        return new Measurement(rps, Percentile(output, "50"), Percentile(output, "99"), requests, errors, TimeSpan.Zero);
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
    private static async Task<Measurement> DotnetClientAsync(Uri url, int connections, int seconds)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, UseProxy = false };
        using var http = new HttpClient(handler);
        var body = Encoding.UTF8.GetBytes(Body);
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
        return new Measurement(all.Length / clock.Elapsed.TotalSeconds, At(0.50), At(0.99), all.Length, errors, TimeSpan.Zero);
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestCount();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex NonSuccess();

    private sealed record Measurement(double RequestsPerSecond, TimeSpan P50, TimeSpan P99, long Requests, long Errors, TimeSpan CpuPerRequest);
}
