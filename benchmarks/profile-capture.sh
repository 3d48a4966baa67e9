#!/usr/bin/env bash
# Profiles the API of the load harness (benchmarks/CometMpm.LoadTest, `serve-api`, IrisApi's work) at saturation, to see
# where the per-request cost of `.WithCometMpm()` capture goes: request thread vs the background sender, and what it
# allocates. Starts the harness's own child commands (`sink --count`, `serve-api --mode MODE`) the way `api` does (API on
# the first half of the CPUs, wrk, the sink and the profilers on the rest), warms up, then per mode:
#   1. an unprofiled wrk run: requests/s, API CPU per request (/proc), bytes allocated per request (/control/allocated);
#   2. a dotnet-trace CPU trace (dotnet-sampled-thread-time: EventPipe's ~1 ms thread sampler) under wrk;
#   3. a dotnet-trace allocation trace (gc-verbose: GCAllocationTick, one event per ~100 KB, type name + stack) under wrk;
#   4. when `perf` works, a perf cpu-clock profile (true on-CPU samples incl. kernel; JIT names from DOTNET_PerfMapEnabled,
#      which needs DOTNET_EnableWriteXorExecute=0 on the API: set for all its runs then, --no-perf keeps the default).
# then prints text summaries (the C# analyzer below reads the .nettrace files with TraceEvent; a Python one reads perf).
#
# usage: benchmarks/profile-capture.sh [OUT_DIR] [--mode capture|off|both] [--duration 15] [--warmup 20]
#                                      [--connections 16] [--app iris|loans] [--no-build] [--no-perf]
#   OUT_DIR defaults to /tmp/profile-capture; results go to OUT_DIR/MODE/ (summary.md, *.nettrace, perf.data).
# Needs: the .NET SDK, wrk, and dotnet-trace (installed here if missing: dotnet tool install -g dotnet-trace).
# Caveat: the EventPipe sampler suspends the runtime ~1,000 times a second, which on a 2-core box roughly halves the
# API's requests/s while it runs; read its shares as proportions (perf, when present, is the undistorted cross-check).
set -euo pipefail

OUT=/tmp/profile-capture
MODES=capture
DURATION=15
WARMUP=20
CONNECTIONS=16
APP=iris
BUILD=1
PERF=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mode) MODES="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --app) APP="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-perf) PERF=0; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) OUT="$1"; shift ;;
  esac
done
[[ "$MODES" == both ]] && MODES="off capture"
for mode in $MODES; do
  [[ "$mode" == off || "$mode" == capture ]] || { echo "--mode must be capture, off or both" >&2; exit 2; }
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJECT="$ROOT/benchmarks/CometMpm.LoadTest"
DLL="$PROJECT/bin/Release/net10.0/CometMpm.LoadTest.dll"
export PATH="$PATH:$HOME/.dotnet/tools"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
command -v dotnet-trace >/dev/null || dotnet tool install -g dotnet-trace --version 10.0.750501 >/dev/null
if [[ $PERF == 1 ]] && ! { command -v perf >/dev/null && perf stat -e cpu-clock -- true >/dev/null 2>&1; }; then
  echo "# perf is missing or not permitted here: skipping the perf profile" >&2
  PERF=0
fi
if [[ $BUILD == 1 ]]; then
  dotnet build -c Release "$PROJECT" -nologo -v q -clp:ErrorsOnly >/dev/null
fi
[[ -f "$DLL" ]] || { echo "$DLL is missing: build first (or drop --no-build)" >&2; exit 1; }

# As the harness (ApiScenario.SplitCpus): the API on the first half of the allowed CPUs, everything else on the rest.
mapfile -t CPUS < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)), sep="\n")')
if (( ${#CPUS[@]} >= 2 )); then
  half=$(( ${#CPUS[@]} / 2 ))
  API_PIN=(taskset -c "$(IFS=,; echo "${CPUS[*]:0:half}")")
  LOAD_PIN=(taskset -c "$(IFS=,; echo "${CPUS[*]:half}")")
else
  API_PIN=(); LOAD_PIN=()
fi

case "$APP" in
  iris) BODY='{"sepal_length":5.9,"sepal_width":3.0,"petal_length":4.2,"petal_width":1.5}' ;;
  loans) BODY='{"amount":25000,"income":72000,"debtRatio":0.31,"creditScore":712,"age":41,"termMonths":60,"country":"PT","purpose":"car","hasCollateral":true,"segment":0}' ;;
  *) echo "--app must be iris or loans" >&2; exit 2 ;;
esac
LUA="$OUT/post.lua"
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' "'$BODY'" > "$LUA"

# The analyzers are written outside the repo, so the repo's Directory.Build.props / central package versions don't apply.
ANALYZER="$OUT/.analyzer"
mkdir -p "$ANALYZER"
cat > "$ANALYZER/Analyze.cs" <<'CSHARP'
#:package Microsoft.Diagnostics.Tracing.TraceEvent@3.1.21
// Summarizes the two dotnet-trace files of benchmarks/profile-capture.sh:
//   Analyze.cs cpu   <cpu.nettrace>   [requests]   thread-time samples (SampleProfiler) -> busy samples by method/category
//   Analyze.cs alloc <alloc.nettrace> [requests]   GCAllocationTick events -> sampled bytes by type/category
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var kind = args[0];
var requests = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 0;
var etlx = TraceLog.CreateFromEventPipeDataFile(args[1]);
using var log = new TraceLog(etlx);
return kind == "cpu" ? Profile.Cpu(log, requests) : Profile.Alloc(log, requests);

static class Profile
{
    // Frames that make a sample "capture": the library's own code, and (the API's only HTTP client is the MPM sender)
    // System.Net.Http, which async continuations of the sender's POSTs run without a CometMpm frame above them.
    static readonly Regex Sender = new(@"^CometMpm\.(Delivery|Serialization|Transport|Persistence|Queue\.EventQueue\.(Read|TryRead|Wait))|^CometMpm\.CometMpmClient\..*(Send|Deliver|Run)", RegexOptions.Compiled);
    static readonly Regex OutboundHttp = new(@"^System\.Net\.Http\.", RegexOptions.Compiled);
    static readonly Regex CometMpm = new(@"^CometMpm\.(?!LoadTest\.|Benchmarks\.)", RegexOptions.Compiled);
    static readonly Regex Serializer = new(@"^CometMpm\.Serialization\.(BatchSerializer|FeatureItemsConverter|MpmJsonContext)", RegexOptions.Compiled);
    static readonly Regex DiScope = new(@"ServiceProviderEngineScope|RequestServicesFeature|ServiceScopeFactory|\.CreateScope|CreateAsyncScope", RegexOptions.Compiled);
    static readonly Regex DiAny = new(@"^Microsoft\.Extensions\.DependencyInjection\.|ServiceProviderServiceExtensions|RequestServicesFeature|^dynamicClass\.ResolveService", RegexOptions.Compiled);
    static readonly Regex Interesting = new(@"^(CometMpm\.(?!LoadTest)|dynamicClass\.|System\.Text\.Json\.|Microsoft\.Extensions\.DependencyInjection\.|Microsoft\.AspNetCore\.|System\.Net\.Http\.)|\[native\]", RegexOptions.Compiled);

    // An External sample (the thread is outside managed code) whose innermost managed frames are these is a blocked
    // (idle) thread: thread-pool and timer waits, epoll, the file watcher's read. Other External samples are native work
    // called from managed code (socket send/recv syscalls, spinning), counted as busy.
    static readonly Regex Idle = new(@"WaitNative|WaitOneNoCheck|ManualResetEventSlim\.Wait|WaitForSignal|LowLevelLifoSemaphore\.Wait\b|Monitor\.Wait|Thread\.Sleep|Thread\.Join|SocketAsyncEngine\.EventLoop|FileSystemWatcher|WorkerThreadStart|GateThreadStart|TimerThread|Console|ReadLine|SignalHandler|WaitForSocketEvents", RegexOptions.Compiled);

    static string Name(TraceCallStack frame)
    {
        var name = frame.CodeAddress.FullMethodName;
        if (string.IsNullOrEmpty(name))
        {
            return "?!" + frame.CodeAddress.ModuleName;
        }

        var paren = name.IndexOf('(');
        return paren > 0 ? name[..paren] : name;
    }

    static List<string> Frames(TraceEvent e)
    {
        var frames = new List<string>(); // leaf first
        for (var s = e.CallStack(); s is not null; s = s.Caller)
        {
            frames.Add(Name(s));
        }

        return frames;
    }

    // The endpoint's own work runs inside the capture filter (EndpointCapture calls next()): a stack belongs to capture only
    // when the frame nearest the leaf that is either the library or the app (the handler, the model) is the library's.
    static readonly Regex App = new(@"^(CometMpm\.(LoadTest|Benchmarks)\.|Examples\.|Microsoft\.ML\.|Program\b)", RegexOptions.Compiled);

    /// <summary>Where a stack's cost goes (first match wins), the same rules for CPU samples and allocation ticks.</summary>
    static string Category(List<string> frames)
    {
        var ownerIndex = frames.FindIndex(f => App.IsMatch(f) || CometMpm.IsMatch(f));
        if (ownerIndex >= 0 && CometMpm.IsMatch(frames[ownerIndex]))
        {
            if (frames.Any(f => Sender.IsMatch(f)))
            {
                return frames.Any(f => Serializer.IsMatch(f)) ? "capture: sender, serializing (BatchSerializer / converters)" : "capture: sender, other (BatchWorker, HttpDelivery, queue)";
            }

            return frames.Take(ownerIndex).Any(f => DiAny.IsMatch(f))
                ? $"capture: request thread, DI (RequestServices / GetService under {frames[ownerIndex]})"
                : "capture: request thread, other CometMpm frames";
        }

        if (ownerIndex >= 0)
        {
            return "endpoint handler (IrisModel / ML.NET / the lambda)";
        }

        if (frames.Any(f => OutboundHttp.IsMatch(f)))
        {
            return "capture: sender's HTTP client (System.Net.Http, no CometMpm frame)";
        }

        if (frames.Any(f => DiScope.IsMatch(f)))
        {
            return "request scope outside CometMpm frames (ServiceProviderEngineScope / RequestServicesFeature)";
        }

        if (frames.Any(f => f.StartsWith("Microsoft.AspNetCore.", StringComparison.Ordinal)))
        {
            return "ASP.NET Core / Kestrel (no CometMpm frame)";
        }

        return "other (sockets, thread pool, runtime)";
    }

    static void Table(string title, IEnumerable<KeyValuePair<string, double>> rows, double total, int top, string unit = "samples", Func<double, string>? extra = null)
    {
        Console.WriteLine();
        Console.WriteLine($"### {title}");
        Console.WriteLine();
        Console.WriteLine($"| # | {unit} | share | {(extra is null ? "" : "per request | ")}name |");
        Console.WriteLine($"|---:|---:|---:|{(extra is null ? "" : "---:|")}---|");
        var i = 0;
        foreach (var (name, value) in rows.OrderByDescending(r => r.Value).Take(top))
        {
            Console.WriteLine($"| {++i} | {value:N0} | {100 * value / total:F1}% | {(extra is null ? "" : extra(value) + " | ")}`{name.Replace("|", "\\|")}` |");
        }
    }

    public static int Cpu(TraceLog log, double requests)
    {
        long managed = 0, externalBusy = 0, idle = 0;
        var exclusive = new Dictionary<string, double>();
        var inclusive = new Dictionary<string, double>();
        var categories = new Dictionary<string, double>();
        long serializer = 0, diUnderTryBegin = 0, diScopeAll = 0, diAll = 0;
        foreach (var e in log.Events)
        {
            if (e.ProviderName != "Microsoft-DotNETCore-SampleProfiler")
            {
                continue;
            }

            var type = e.PayloadValue(0)?.ToString();
            var frames = Frames(e);
            if (frames.Count == 0)
            {
                idle++;
                continue;
            }

            // The P/Invoke stubs are unnamed: name them by their caller. The epoll stub is the socket engine waiting.
            if (frames[0].StartsWith("?!", StringComparison.Ordinal) && frames.Count > 1)
            {
                if (frames[1].EndsWith("SocketAsyncEngine.EventLoop", StringComparison.Ordinal))
                {
                    idle++;
                    continue;
                }

                type = "External";
            }

            if (type == "External")
            {
                // The innermost named frames: the P/Invoke stub is unnamed, its caller says what it is.
                var inner = string.Join(" ", frames.Take(3));
                if (Idle.IsMatch(inner) && !inner.Contains("LowLevelSpinWaiter"))
                {
                    idle++;
                    continue;
                }

                externalBusy++;
                var leaf = frames.FirstOrDefault(f => !f.StartsWith("?!", StringComparison.Ordinal)) ?? frames[0];
                exclusive["[native] " + leaf] = exclusive.GetValueOrDefault("[native] " + leaf) + 1;
            }
            else
            {
                managed++;
                exclusive[frames[0]] = exclusive.GetValueOrDefault(frames[0]) + 1;
            }

            foreach (var f in frames.Distinct())
            {
                inclusive[f] = inclusive.GetValueOrDefault(f) + 1;
            }

            var category = Category(frames);
            categories[category] = categories.GetValueOrDefault(category) + 1;
            if (frames.Any(f => Serializer.IsMatch(f)))
            {
                serializer++;
            }

            if (frames.Any(f => DiScope.IsMatch(f)))
            {
                diScopeAll++;
            }

            if (frames.Any(f => DiAny.IsMatch(f)))
            {
                diAll++;
                if (Category(frames).Contains("CapturePlan.TryBegin"))
                {
                    diUnderTryBegin++;
                }
            }
        }

        double busy = managed + externalBusy;
        var seconds = log.SessionDuration.TotalSeconds;
        Console.WriteLine($"Trace: {seconds:F1} s; thread samples: {managed + externalBusy + idle:N0}; busy {busy:N0} ({managed:N0} in managed code, {externalBusy:N0} in native code called from managed code: syscalls, spinning); idle (blocked threads) {idle:N0}.");
        Console.WriteLine($"Busy samples per second: {busy / seconds:N0} (EventPipe samples every managed thread about every 1 ms; busy threads / wall time ≈ {busy / seconds / 1000:F2} cores if sampling kept its 1 ms pace).");
        Console.WriteLine("Shares below are of busy samples (managed + native-called-from-managed); GC and JIT threads and kernel time outside syscalls are not sampled.");
        if (requests > 0)
        {
            Console.WriteLine($"Requests during the trace (from wrk): {requests:N0}; busy samples per 1,000 requests: {1000 * busy / requests:F1}.");
        }

        Table("Busy samples by category (first match wins)", categories, busy, 20);
        var captureShare = categories.Where(c => c.Key.StartsWith("capture", StringComparison.Ordinal)).Sum(c => c.Value);
        Console.WriteLine();
        Console.WriteLine($"- capture, all categories: {captureShare:N0} samples, {100 * captureShare / busy:F1}% of busy");
        Console.WriteLine($"- serializer frames (BatchSerializer / FeatureItemsConverter / MpmJsonContext) inclusive: {serializer:N0}, {100 * serializer / busy:F1}%");
        Console.WriteLine($"- DI frames (Microsoft.Extensions.DependencyInjection / RequestServicesFeature) inclusive: {diAll:N0}, {100 * diAll / busy:F1}%; under CapturePlan.TryBegin: {diUnderTryBegin:N0}, {100 * diUnderTryBegin / busy:F1}%; scope creation/disposal frames anywhere: {diScopeAll:N0}, {100 * diScopeAll / busy:F1}%");
        Table("Top exclusive (leaf) methods, all", exclusive, busy, 15);
        Table("Top exclusive (leaf) methods: CometMpm, System.Text.Json, DI, ASP.NET Core, System.Net.Http, native calls", exclusive.Where(k => Interesting.IsMatch(k.Key)), busy, 25);
        Table("Top inclusive methods: CometMpm, System.Text.Json, DI, ASP.NET Core, System.Net.Http", inclusive.Where(k => Interesting.IsMatch(k.Key)), busy, 25);
        Table("Top inclusive methods: CometMpm only", inclusive.Where(k => CometMpm.IsMatch(k.Key)), busy, 25);
        return 0;
    }

    public static int Alloc(TraceLog log, double requests)
    {
        var byType = new Dictionary<string, double>();
        var byTypeCapture = new Dictionary<string, double>();
        var byCategory = new Dictionary<string, double>();
        var sites = new Dictionary<string, double>();
        double total = 0;
        long ticks = 0, gcs = 0;
        var generations = new int[3];
        foreach (var e in log.Events)
        {
            if (e is GCStartTraceData start)
            {
                gcs++;
                generations[Math.Clamp(start.Depth, 0, 2)]++;
                continue;
            }

            if (e is not GCAllocationTickTraceData tick)
            {
                continue;
            }

            ticks++;
            double bytes = tick.AllocationAmount64 > 0 ? tick.AllocationAmount64 : tick.AllocationAmount;
            total += bytes;
            var type = tick.TypeName ?? "?";
            byType[type] = byType.GetValueOrDefault(type) + bytes;
            var frames = Frames(e);
            var category = frames.Count == 0 ? "no stack" : Category(frames);
            if (category == "capture: request thread, other CometMpm frames" && Regex.IsMatch(type, @"DependencyInjection|RequestServicesFeature"))
            {
                category = "capture: request thread, DI (scope objects; the RequestServices getter is inlined into the CometMpm frame)";
            }

            byCategory[category] = byCategory.GetValueOrDefault(category) + bytes;
            if (category.StartsWith("capture", StringComparison.Ordinal))
            {
                byTypeCapture[type] = byTypeCapture.GetValueOrDefault(type) + bytes;
            }

            // The allocating method: the first frame that is not an allocation helper or a collection/string internal.
            var site = frames.FirstOrDefault(f => !Regex.IsMatch(f, @"^(System\.(String|Array|Buffer|GC|Runtime\.|Collections\.|Linq\.|SZArrayHelper|Text\.StringBuilder|Number|Span|Memory)|\?!)")) ?? (frames.FirstOrDefault() ?? "?");
            var key = $"{type} <- {site}";
            sites[key] = sites.GetValueOrDefault(key) + bytes;
        }

        var seconds = log.SessionDuration.TotalSeconds;
        Console.WriteLine($"Trace: {seconds:F1} s; GCAllocationTick events: {ticks:N0} (one per ~100 KB allocated); sampled bytes {total / 1e6:N1} MB ({total / 1e6 / seconds:N1} MB/s); GCs: {gcs} (gen0 {generations[0]}, gen1 {generations[1]}, gen2 {generations[2]}).");
        Func<double, string>? perRequest = null;
        if (requests > 0)
        {
            Console.WriteLine($"Requests during the trace (from wrk): {requests:N0}; sampled bytes per request ≈ {total / requests:N0} B.");
            perRequest = v => $"{v / requests:N0} B";
        }

        Table("Sampled allocated bytes by category (allocation stack, first match wins)", byCategory, total, 20, "bytes", perRequest);
        Table("Top allocated types (all)", byType, total, 25, "bytes", perRequest);
        Table("Top allocated types with a capture stack (share of all bytes)", byTypeCapture, total, 20, "bytes", perRequest);
        Table("Top allocation sites (type <- allocating method)", sites, total, 25, "bytes", perRequest);
        return 0;
    }
}
CSHARP
cat > "$ANALYZER/perf_summary.py" <<'PYTHON'
#!/usr/bin/env python3
"""Summarizes `perf script -F comm,tid,ip,sym,dso` of the API process: on-CPU samples by where the leaf runs (kernel,
runtime, JIT-compiled code) and by capture category (the same rules as Analyze.cs), plus CometMpm frames inclusive."""
import collections
import re
import sys

SENDER = re.compile(r"CometMpm\.(Delivery|Serialization|Transport|Persistence)|CometMpm\.Queue\.EventQueue[.:]+(Read|TryRead|Wait)")
SERIALIZER = re.compile(r"CometMpm\.Serialization\.(BatchSerializer|FeatureItemsConverter|MpmJsonContext)")
HTTP = re.compile(r"System\.Net\.Http\.")
COMET = re.compile(r"^CometMpm\.(?!LoadTest\.|Benchmarks\.)")
APP = re.compile(r"^(CometMpm\.(LoadTest|Benchmarks)\.|Examples\.|Microsoft\.ML\.|Program\b)")
DI = re.compile(r"Microsoft\.Extensions\.DependencyInjection\.|ServiceProviderServiceExtensions|RequestServicesFeature|dynamicClass[.:]+ResolveService")
SCOPE = re.compile(r"ServiceProviderEngineScope|RequestServicesFeature|CreateScope|CreateAsyncScope")
ASPNET = re.compile(r"Microsoft\.AspNetCore\.")


def samples(path):
    frames, comm = [], None
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if comm is not None:
                    yield comm, frames
                frames, comm = [], None
            elif line[0] in " \t" and comm is not None:
                m = re.match(r"\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$", line)
                if m:
                    frames.append((m.group(2), m.group(3)))
            else:
                comm = line.rsplit(None, 1)[0].strip()
                frames = []
    if comm is not None:
        yield comm, frames


def where(sym, dso):
    if "kernel" in dso:
        return "kernel"
    if "libcoreclr" in dso:
        return "runtime (libcoreclr: GC, stubs, type system)"
    if "libclrjit" in dso:
        return "JIT compiler"
    if "perf-" in dso or dso.endswith(".map") or "[anon" in dso or "memfd" in dso:
        return "JIT-compiled managed code"
    if dso.endswith(".dll"):
        return "ReadyToRun managed code (framework)"
    if "libSystem" in dso:
        return "libSystem.Native (syscall shims)"
    if "libc" in dso:
        return "libc"
    return "other: " + dso.rsplit("/", 1)[-1]


def category(names):
    # As Analyze.cs: the frame nearest the leaf that is the library's or the app's (handler, model) owns the sample.
    owner = next((i for i, n in enumerate(names) if APP.search(n) or COMET.search(n)), None)
    joined = "\n".join(names)
    if owner is not None and COMET.search(names[owner]):
        if SENDER.search(joined):
            return "capture: sender, serializing" if SERIALIZER.search(joined) else "capture: sender, other (BatchWorker, HttpDelivery, queue)"
        if any(DI.search(n) for n in names[:owner]):
            return f"capture: request thread, DI (under {names[owner]})"
        return "capture: request thread, other CometMpm frames"
    if owner is not None:
        return "endpoint handler (IrisModel / ML.NET / the lambda)"
    if HTTP.search(joined):
        return "capture: sender's HTTP client (System.Net.Http, no CometMpm frame)"
    if SCOPE.search(joined):
        return "request scope outside CometMpm frames"
    if ASPNET.search(joined):
        return "ASP.NET Core / Kestrel (no CometMpm frame)"
    return "other (sockets, thread pool, runtime, GC)"


def short(sym):
    # perf-PID.map names read "instance void [Assembly] Namespace.Type::Method(args)[OptimizedTier1]": keep Type.Method.
    m = re.search(r"(\S+)::([^(\s]+)", sym)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    return sym.split("(", 1)[0]


def table(title, counter, total, top):
    print(f"\n### {title}\n")
    print("| # | samples | share | name |\n|---:|---:|---:|---|")
    for i, (name, n) in enumerate(counter.most_common(top), 1):
        print(f"| {i} | {n:,} | {100 * n / total:.1f}% | `{name}` |")


def main(path):
    leaf_where, cats, comet, threads = collections.Counter(), collections.Counter(), collections.Counter(), collections.Counter()
    leaf_sym = collections.Counter()
    total = managed_stacks = managed_capture = 0
    for comm, frames in samples(path):
        if not frames:
            continue
        total += 1
        sym, dso = frames[0]
        leaf_where[where(sym, dso)] += 1
        leaf_sym[f"{short(sym)} ({dso.rsplit('/', 1)[-1]})"] += 1
        names = [short(s) for s, _ in frames]
        cat = category(names)
        cats[cat] += 1
        if any(dso.endswith(".map") for _, dso in frames):
            managed_stacks += 1
            managed_capture += cat.startswith("capture")
        threads[comm] += 1
        for n in set(names):
            if COMET.search(n) or "ResolveService" in n or n.startswith("Microsoft.Extensions.DependencyInjection."):
                comet[n] += 1
    if total == 0:
        print("(no samples)")
        return
    print(f"perf samples of the API process: {total:,} (cpu-clock, 499 Hz per CPU)")
    table("By where the leaf frame runs", leaf_where, total, 10)
    table("By category (first match wins; the whole stack)", cats, total, 10)
    capture = sum(n for c, n in cats.items() if c.startswith("capture"))
    print(f"\n- capture, all categories: {capture:,} samples, {100 * capture / total:.1f}% of the API process's on-CPU samples")
    if managed_stacks:
        print(f"- samples whose stack reaches a JIT-compiled frame: {managed_stacks:,} ({100 * managed_stacks / total:.1f}%); capture among them: "
              f"{managed_capture:,} ({100 * managed_capture / managed_stacks:.1f}%). Stacks that enter the kernel through libc (send, recv, "
              "epoll, sched_yield) stop at libc (no frame pointers there), so kernel time is not attributed to its managed caller.")
    table("By thread name", threads, total, 8)
    table("Top leaf symbols", leaf_sym, total, 20)
    table("CometMpm and DI frames, inclusive", comet, total, 20)


main(sys.argv[1])
PYTHON

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap cleanup EXIT

# Starts `dotnet LoadTest.dll ARGS...` (pinned by the named array), waits for its "READY url" line; sets STARTED_PID, READY_URL.
start_child() {
  local log="$1" pin="$2"; shift 2
  local -n pin_ref="$pin"
  "${pin_ref[@]}" dotnet "$DLL" "$@" > "$log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for _ in $(seq 120); do
    READY_URL=$(sed -n 's/^READY //p' "$log")
    [[ -n "$READY_URL" ]] && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || break
    sleep 0.5
  done
  echo "child '$*' did not get ready: $(cat "$log")" >&2
  exit 1
}

wrk_run() { "${LOAD_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d"$1"s --latency -s "$LUA" "${API_URL}predict"; }
rps_of() { sed -n 's/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' "$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, in clock ticks
TRACE_DURATION=$(printf '00:00:%02d:%02d' $((DURATION / 60)) $((DURATION % 60)))

for MODE in $MODES; do
  DIR="$OUT/$MODE"
  rm -rf "$DIR"; mkdir -p "$DIR"
  echo "# $MODE: starting the sink and the API ($APP) in $DIR" >&2
  start_child "$DIR/sink.log" LOAD_PIN sink --count
  SINK_URL=$READY_URL
  # perf resolves JIT code through /tmp/perf-PID.map only in anonymous memory: W^X double mapping off when perf runs.
  DOTNET_PerfMapEnabled=$PERF DOTNET_EnableWriteXorExecute=$((1 - PERF)) start_child "$DIR/api.log" API_PIN serve-api --app "$APP" --mode "$MODE" --sink "$SINK_URL" --batch 1000 --spin 0
  API_PID=$STARTED_PID
  API_URL=$READY_URL

  echo "# $MODE: warm-up ${WARMUP} s" >&2
  wrk_run "$WARMUP" > "$DIR/wrk-warmup.txt"
  sleep 1.5 # the sender's last batch of the warm-up

  # 1. Unprofiled: requests/s, CPU and allocation per request.
  ticks0=$(cpu_ticks "$API_PID"); alloc0=$(curl -s "${API_URL}control/allocated")
  wrk_run "$DURATION" > "$DIR/wrk-baseline.txt"
  sleep 1.5
  ticks1=$(cpu_ticks "$API_PID"); alloc1=$(curl -s "${API_URL}control/allocated")
  BASE_RPS=$(rps_of "$DIR/wrk-baseline.txt")
  BASE_REQ=$(sed -n 's/^[[:space:]]*\([0-9]*\) requests in.*/\1/p' "$DIR/wrk-baseline.txt")
  HZ=$(getconf CLK_TCK)

  # 2. and 3. dotnet-trace under load: wrk starts first and outlasts the trace by a few seconds on each side.
  for kind in cpu alloc; do
    profile=dotnet-sampled-thread-time; [[ $kind == alloc ]] && profile=gc-verbose
    echo "# $MODE: $kind trace ($profile) ${DURATION} s" >&2
    wrk_run $((DURATION + 5)) > "$DIR/wrk-$kind.txt" &
    WRK=$!
    sleep 2
    "${LOAD_PIN[@]}" dotnet-trace collect -p "$API_PID" --profile "$profile" --duration "$TRACE_DURATION" -o "$DIR/$kind.nettrace" > "$DIR/dotnet-trace-$kind.log" 2>&1 \
      || { echo "dotnet-trace failed: $(cat "$DIR/dotnet-trace-$kind.log")" >&2; exit 1; }
    wait "$WRK"
    sleep 1.5
  done

  # 4. perf: on-CPU samples of the API process (kernel included), 499 Hz, frame-pointer stacks.
  if [[ $PERF == 1 ]]; then
    echo "# $MODE: perf ${DURATION} s" >&2
    wrk_run $((DURATION + 4)) > "$DIR/wrk-perf.txt" &
    WRK=$!
    sleep 2
    "${LOAD_PIN[@]}" perf record -q -e cpu-clock -F 499 -g -p "$API_PID" -o "$DIR/perf.data" -- sleep "$DURATION" > "$DIR/perf-record.log" 2>&1 || true
    wait "$WRK"
    perf script -i "$DIR/perf.data" -F comm,tid,ip,sym,dso > "$DIR/perf-script.txt" 2>/dev/null || true
  fi

  cleanup
  [[ -f "/tmp/perf-$API_PID.map" ]] && mv "/tmp/perf-$API_PID.map" "$DIR/" && rm -f "/tmp/perfinfo-$API_PID.map"

  # Summaries.
  {
    echo "# profile: $MODE ($APP), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- API pinned: ${API_PIN[*]:-no}; wrk/sink/profilers: ${LOAD_PIN[*]:-no}; wrk -t1 -c$CONNECTIONS; warm-up ${WARMUP} s; each run ${DURATION} s"
    python3 - "$BASE_RPS" "$BASE_REQ" "$ticks0" "$ticks1" "$HZ" "$alloc0" "$alloc1" "$DURATION" <<'PY'
import sys
rps, req, t0, t1, hz, a0, a1, dur = sys.argv[1:]
req = max(1, int(req)); cpu = (int(t1) - int(t0)) / int(hz)
print(f"- unprofiled: {float(rps):,.0f} requests/s; API CPU {cpu / float(dur):.2f} cores, {1e6 * cpu / req:.1f} µs per request; "
      f"allocated {(int(a1) - int(a0)) / req:,.0f} B per request (GC.GetTotalAllocatedBytes, all threads)")
PY
    for kind in cpu alloc; do
      rps=$(rps_of "$DIR/wrk-$kind.txt")
      requests=$(python3 -c "print(round($rps * $DURATION))")
      echo
      echo "## $([[ $kind == cpu ]] && echo 'CPU (dotnet-trace, EventPipe thread samples)' || echo 'Allocations (dotnet-trace gc-verbose, GCAllocationTick)')"
      echo
      echo "wrk during the trace: $rps requests/s"
      echo
      (cd "$ANALYZER" && dotnet run Analyze.cs -- "$kind" "$DIR/$kind.nettrace" "$requests" 2>&1)
    done
    if [[ -s "$DIR/perf-script.txt" ]]; then
      echo
      echo "## CPU (perf cpu-clock, on-CPU samples incl. kernel)"
      echo
      echo "wrk during perf: $(rps_of "$DIR/wrk-perf.txt") requests/s"
      echo
      python3 "$ANALYZER/perf_summary.py" "$DIR/perf-script.txt"
    fi
  } > "$DIR/summary.md"
  echo "# $MODE: summary in $DIR/summary.md" >&2
done

for MODE in $MODES; do
  echo
  cat "$OUT/$MODE/summary.md"
done
