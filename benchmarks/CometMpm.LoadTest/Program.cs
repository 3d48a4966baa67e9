using System.Diagnostics;
using System.Globalization;
using CometMpm.LoadTest;

// Load scenarios for the Comet MPM client, loopback only, each run bounded in time. See docs/benchmarks.md.
//   sender  the background sender's delivery rate (events/s) and CPU per event, to a loopback sink in a child process
//   api     an API under load (wrk closed loop, or a fixed-rate open-loop client) with MPM off / LogEvent / endpoint capture /
//           the same record through ILogger + OpenTelemetry (otel), optionally at several amounts of work per request
// Internal commands (started as child processes): sink, serve-api, load.
var command = args.Length > 0 ? args[0] : "help";
var options = Arguments.Parse(args.Skip(1));
try
{
    return command switch
    {
        "sender" => await SenderScenario.RunAsync(options),
        "api" => await ApiScenario.RunAsync(options),
        "sink" => await ChildCommands.SinkAsync(options),
        "serve-api" => await ChildCommands.ServeApiAsync(options),
        "load" => OpenLoopClient.Command(options),
        _ => Usage(),
    };
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return Usage();
}

static int Usage()
{
    Console.WriteLine("""
        usage: dotnet run -c Release --project benchmarks/CometMpm.LoadTest -- <command> [options]
          sender  [--events 1000000] [--batch 1000] [--features 10] [--runs 3]
                  fills the queue while the sink holds the start-up ping, then times the sender draining it
                  (after one unmeasured warm-up run of 100,000 events)
          api     [--app iris|loans] [--modes off,logevent,capture[,otel]] [--rate 0] [--rounds 6] [--duration 5]
                  [--warmup 30] [--connections 16] [--client wrk|dotnet] [--no-pin]
                  [--batch 1000] [--work-us 15,50,200]
                  an API on 127.0.0.1 under load, MPM off vs on. --rate 0: closed loop at saturation (wrk when
                  installed); --rate N: N requests/s, open loop (latency from each request's due time).
                  Modes: off; logevent (ICometMpm.LogEvent in the handler); capture (.WithCometMpm()); otel (the same
                  record through a [LoggerMessage] ILogger call, OpenTelemetry's batch log processor and OTLP/HTTP
                  protobuf exporter, batches of --batch every 1 s, to the same sink's /v1/logs).
                  Reports requests/s, latency, API CPU and bytes allocated per request, and records the sink got per request.
                  --work-us LIST: the whole run once per level, with that many µs of calibrated CPU work (a spin, not
                  a sleep) added to every request, then a cost curve: each mode's requests/s as a share of off's.
                  With 2+ CPUs the API runs on the first half of the allowed CPUs, wrk / the fixed-rate client and the
                  sink on the rest ([--sink-cpus LIST] moves the sink). --client dotnet runs unpinned, in this process.
        """);
    return 2;
}

namespace CometMpm.LoadTest
{
    internal sealed class Arguments(Dictionary<string, string> values)
    {
        public static Arguments Parse(IEnumerable<string> args)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            string? key = null;
            foreach (var arg in args)
            {
                if (arg.StartsWith("--", StringComparison.Ordinal))
                {
                    if (key is not null)
                    {
                        values[key] = "true";
                    }

                    key = arg[2..];
                }
                else if (key is not null)
                {
                    values[key] = arg;
                    key = null;
                }
                else
                {
                    throw new ArgumentException($"Unexpected argument '{arg}'.");
                }
            }

            if (key is not null)
            {
                values[key] = "true";
            }

            return new Arguments(values);
        }

        public string String(string name, string fallback) => values.TryGetValue(name, out var value) ? value : fallback;

        public int Int(string name, int fallback) => values.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

        public bool Flag(string name) => values.ContainsKey(name);
    }

    /// <summary>Runs this program again as a child process with another command, and reads its "READY url" line.</summary>
    internal sealed class Child : IDisposable
    {
        private readonly Process _process;

        private Child(Process process, Uri url)
        {
            _process = process;
            Url = url;
        }

        public Uri Url { get; }

        public TimeSpan CpuTime
        {
            get
            {
                _process.Refresh();
                return _process.TotalProcessorTime;
            }
        }

        public static Task<Child> StartAsync(params string[] args) => StartPinnedAsync(cpus: null, args);

        /// <summary>Starts the child on the given CPUs (a <c>taskset -c</c> list) when <paramref name="cpus"/> is set.</summary>
        public static async Task<Child> StartPinnedAsync(string? cpus, params string[] args)
        {
            var process = Process.Start(Command(cpus, args))!;
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
                {
                    if (line.StartsWith("READY ", StringComparison.Ordinal))
                    {
                        return new Child(process, new Uri(line[6..]));
                    }
                }

                throw new InvalidOperationException($"The child process '{string.Join(' ', args)}' ended before it was ready.");
            }
            catch
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }

                process.Dispose();
                throw;
            }
        }

        /// <summary>How to run this program with <paramref name="args"/>, under <c>taskset</c> when <paramref name="cpus"/> is set.</summary>
        public static ProcessStartInfo Command(string? cpus, params string[] args)
        {
            var self = new List<string> { Environment.ProcessPath! };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            {
                self.Add(typeof(Child).Assembly.Location);
            }

            return Pinned(cpus, [.. self, .. args]);
        }

        /// <summary>A process start for <paramref name="command"/>, pinned with <c>taskset -c</c> when <paramref name="cpus"/> is set.</summary>
        public static ProcessStartInfo Pinned(string? cpus, params string[] command)
        {
            var all = cpus is null ? command : ["-c", cpus, .. command];
            var info = new ProcessStartInfo(cpus is null ? all[0] : "taskset") { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var arg in cpus is null ? all.Skip(1) : all)
            {
                info.ArgumentList.Add(arg);
            }

            return info;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
        }
    }

    internal static class Machine
    {
        public static string Describe()
        {
            var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            return $"{cpu}, {Environment.ProcessorCount} cores; .NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; load average {LoadAverage()}";
        }

        public static string LoadAverage() =>
            File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
    }
}
