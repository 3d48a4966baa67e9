using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CometMpm.Diagnostics;
using CometMpm.Emulator;
using CometMpm.Tests.Infrastructure;
using Xunit.Abstractions;
using static CometMpm.Tests.Infrastructure.TestClient;
using static CometMpm.Tests.Infrastructure.TestHelpers;

namespace CometMpm.Tests;

/// <summary>
/// The fault matrix of docs/reliability.md: one row per fault. Each row offers events to a real client pointed at the
/// emulator (behind a <see cref="WireTap"/> that counts what the backend acknowledged) or at a hostile loopback server,
/// and checks the ledger: nothing unaccounted (accepted = delivered + dropped + in outbox + pending), delivered = the ids
/// the backend stored, and no id acknowledged twice where the row says so. Every row writes its numbers to the test
/// output and, when <c>COMETMPM_FAULT_TABLE</c> names a file, appends a markdown line to it:
/// <code>COMETMPM_FAULT_TABLE=/tmp/t.md dotnet test tests/CometMpm.Tests --filter FaultMatrix</code>
/// </summary>
public sealed class FaultMatrixTests : IDisposable
{
    private const int Offered = 2_000;
    private const string TableHeader = """
        | fault | offered | accepted | delivered | dropped by reason | in outbox | pending | unaccounted | notes |
        |---|---:|---:|---:|---|---:|---:|---:|---|
        """;

    private static readonly Lock TableLock = new();
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(20);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cometmpm-matrix-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly ITestOutputHelper _output;

    public FaultMatrixTests(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_root);
    }

    private string OutboxDir => Path.Combine(_root, "outbox");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // ---------------------------------------------------------------- rows against the emulator

    [Fact]
    public async Task FaultMatrix_503Window_WithOutbox_AllDeliveredOnceAfterTheWindow()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        await using var tap = await WireTap.ProxyAsync(emulator.BaseUrl);
        await using var client = await StartAsync(Settings(tap.BaseUrl, outbox: true));
        await client.Client.HealthChecked;
        var now = DateTimeOffset.UtcNow;
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { Outage = new EmulatorOutageFault(now, now.AddSeconds(3)) });

        var clock = Stopwatch.StartNew();
        Offer(client, "w");
        await FlushAsync(client);
        var atFlush = await QuietLedgerAsync(client);
        await WaitAllSettledAsync(client);
        var run = await FinishAsync(client, emulator, tap);

        Report("503 for 3 s, then healed (outbox)", run, $"in outbox at flush: {atFlush.InOutbox}; all delivered after {clock.Elapsed.TotalSeconds:F1} s; {tap.Posts} POSTs; {tap.Duplicates} ids acknowledged twice");
        AssertAccounted(atFlush, "at flush");
        run.AssertCore();
        Assert.Equal(Offered, run.Read.Delivered);
        Assert.Equal(0, tap.Duplicates);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FaultMatrix_429WithRetryAfter_AllDeliveredOnce(bool outbox)
    {
        await using var emulator = await MpmEmulator.StartAsync();
        await using var tap = await WireTap.ProxyAsync(emulator.BaseUrl);
        await using var client = await StartAsync(Settings(tap.BaseUrl, outbox, ("MaxRetryAttempts", "2")));
        await client.Client.HealthChecked;
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { NextRequests = new EmulatorNextRequestsFault(2, 429, RetryAfter: "1") });

        var clock = Stopwatch.StartNew();
        Offer(client, "t");
        var flushed = await FlushAsync(client);
        await WaitAllSettledAsync(client);
        var run = await FinishAsync(client, emulator, tap);

        Report($"429 Retry-After: 1, twice ({(outbox ? "outbox" : "no outbox")})", run, $"flush {(flushed ? "true" : "false")}; all delivered after {clock.Elapsed.TotalSeconds:F1} s; {tap.Posts} POSTs; {tap.Duplicates} ids acknowledged twice");
        run.AssertCore();
        Assert.Equal(Offered, run.Read.Delivered);
        Assert.Equal(0, tap.Duplicates);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FaultMatrix_DroppedConnections_EveryEventSettled(bool outbox)
    {
        await using var emulator = await MpmEmulator.StartAsync();
        await using var tap = await WireTap.ProxyAsync(emulator.BaseUrl);
        await using var client = await StartAsync(Settings(tap.BaseUrl, outbox, ("MaxRetryAttempts", "2"), ("MaxBatchSize", "100")));
        await client.Client.HealthChecked;
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { DropConnectionProbability = 0.3 });

        Offer(client, "d");
        await FlushAsync(client);
        if (outbox)
        {
            await WaitAllSettledAsync(client); // replay goes on under the same fault
        }

        var faults = await emulator.Client.GetFaultsAsync();
        var run = await FinishAsync(client, emulator, tap);

        Report($"dropped connections p=0.3, batches of 100 ({(outbox ? "outbox" : "no outbox")})", run, $"{tap.Posts} POSTs from the client, {faults.Applied.DroppedConnections} connections dropped by the emulator; {tap.Duplicates} ids acknowledged twice");
        run.AssertCore();
        Assert.Equal(0, tap.Duplicates);
        if (outbox)
        {
            Assert.Equal(Offered, run.Read.Delivered);
        }
    }

    [Fact]
    public async Task FaultMatrix_LatencyOverTheAttemptTimeout_WithOutbox_SpilledThenDelivered()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        await using var tap = await WireTap.ProxyAsync(emulator.BaseUrl);
        await using var client = await StartAsync(Settings(tap.BaseUrl, outbox: true, ("BatchSendingTimeout", "00:00:01")));
        await client.Client.HealthChecked;
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { LatencyMs = 2_500 });

        var clock = Stopwatch.StartNew();
        Offer(client, "l");
        await FlushAsync(client);
        var flushedAfter = clock.Elapsed;
        var atFlush = await QuietLedgerAsync(client);
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // let the first requests time out (twice each) and fail
        var beforeHeal = await QuietLedgerAsync(client);
        await emulator.Client.ClearFaultsAsync();
        await WaitAllSettledAsync(client);
        var run = await FinishAsync(client, emulator, tap);

        Report("latency 2.5 s > attempt timeout 1 s, healed after 3 s (outbox)", run, $"flush returned after {flushedAfter.TotalSeconds:F1} s with {atFlush.InOutbox} in outbox; {tap.Posts} POSTs; {tap.Duplicates} ids acknowledged twice (at-least-once)");
        AssertAccounted(atFlush, "at flush");
        AssertAccounted(beforeHeal, "before heal");
        run.AssertCore();
        Assert.Equal(Offered, run.Read.Delivered);
    }

    [Fact]
    public async Task FaultMatrix_400ForSomeIds_TheOthersDeliveredTheBadOnesInvalid()
    {
        string[] bad = ["s-17", "s-480", "s-999", "s-1203", "s-1750"];
        await using var emulator = await MpmEmulator.StartAsync();
        await using var tap = await WireTap.ProxyAsync(emulator.BaseUrl);
        await using var client = await StartAsync(Settings(tap.BaseUrl, outbox: false));
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { RejectPredictionIds = bad });

        Offer(client, "s");
        await FlushAsync(client);
        var run = await FinishAsync(client, emulator, tap);

        Report($"400 for {bad.Length} ids of {Offered}", run, $"{tap.Posts} POSTs; {tap.Duplicates} ids acknowledged twice");
        Assert.True(
            run.Read.Delivered == Offered - bad.Length && run.Read.Dropped.GetValueOrDefault(DropReason.Invalid) == bad.Length,
            $"DEFECT: {Offered - bad.Length - run.Read.Delivered} valid events were not counted delivered because {bad.Length} others were refused " +
            $"(the split ran out of its {SplittingDeliveryBudget(1000)}-request budget and the rest was dropped as send_failed), while the backend stored {run.Stored} distinct ids: {run.Read}");
        run.AssertCore();
        Assert.Equal(0, tap.Duplicates);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task FaultMatrix_401_NothingSentAgain_KeptInTheOutboxOrDroppedUnauthorized(bool outbox)
    {
        await using var emulator = await MpmEmulator.StartAsync(new MpmEmulatorOptions { ApiKeys = { "another-key" } });
        await using var tap = await WireTap.ProxyAsync(emulator.BaseUrl);
        await using var client = await StartAsync(Settings(tap.BaseUrl, outbox));

        Offer(client, "u");
        await FlushAsync(client);
        var run = await FinishAsync(client, emulator, tap);

        Report($"401, wrong API key ({(outbox ? "outbox" : "no outbox")})", run, $"{tap.Posts} POSTs");
        run.AssertCore();
        Assert.Equal(0, run.Read.Delivered);
        Assert.InRange(tap.Posts, 0, 1);
        if (outbox)
        {
            Assert.Equal(Offered, run.Read.InOutbox);
        }
        else
        {
            Assert.Equal(Offered, run.Read.Dropped.GetValueOrDefault(DropReason.Unauthorized));
        }
    }

    [Fact]
    public async Task FaultMatrix_DiskFullDuringAnOutage_WhatFitsIsDeliveredTheRestCounted()
    {
        Directory.CreateDirectory(OutboxDir);
        var tmpfs = Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", OutboxDir) == 0;
        try
        {
            await using var emulator = await MpmEmulator.StartAsync();
            await using var tap = await WireTap.ProxyAsync(emulator.BaseUrl);
            await using var client = await StartAsync(Settings(tap.BaseUrl, outbox: true, ("MaxBatchSize", "100")));
            await client.Client.HealthChecked;
            await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { NextRequests = new EmulatorNextRequestsFault(1_000_000, 503) });
            var ready = Path.Combine(OutboxDir, "ready");
            if (!tmpfs)
            {
                // Root ignores permissions: a regular file where the ready/ folder was makes every write fail instead.
                Directory.Delete(ready);
                await File.WriteAllTextAsync(ready, "not a folder");
            }

            Offer(client, "f");
            await FlushAsync(client);
            var atFlush = await QuietLedgerAsync(client);
            await emulator.Client.ClearFaultsAsync();
            if (!tmpfs)
            {
                File.Delete(ready);
                Directory.CreateDirectory(ready);
            }

            await WaitAllSettledAsync(client);
            var run = await FinishAsync(client, emulator, tap);

            Report($"disk full during a 503 outage ({(tmpfs ? "64 KiB tmpfs" : "ready/ replaced by a file")}; outbox, batches of 100)", run, $"in outbox at flush: {atFlush.InOutbox}; {tap.Duplicates} ids acknowledged twice");
            AssertAccounted(atFlush, "at flush");
            run.AssertCore();
            Assert.Equal(0, tap.Duplicates);
        }
        finally
        {
            if (tmpfs)
            {
                Run("umount", "-l", OutboxDir);
            }
        }
    }

    [Fact]
    public async Task FaultMatrix_CorruptOutboxFile_Quarantined_TheValidOneDelivered()
    {
        var ready = Path.Combine(OutboxDir, "ready");
        Directory.CreateDirectory(ready);
        var old = DateTimeOffset.UtcNow.AddMinutes(-2).UtcTicks;
        await File.WriteAllTextAsync(Path.Combine(ready, OutboxName(old, 3)), """{"data":[1,2,3]}""");
        await File.WriteAllTextAsync(Path.Combine(ready, OutboxName(old + 1, 50)), EventsBody("v", 50));
        const int Preexisting = 53;

        await using var emulator = await MpmEmulator.StartAsync();
        await using var tap = await WireTap.ProxyAsync(emulator.BaseUrl);
        await using var client = await StartAsync(Settings(tap.BaseUrl, outbox: true));
        Offer(client, "c");
        await FlushAsync(client);
        await WaitAllSettledAsync(client, Preexisting, TimeSpan.FromSeconds(5));
        var run = await FinishAsync(client, emulator, tap, Preexisting);
        var quarantined = Directory.GetFiles(Path.Combine(OutboxDir, "quarantine")).Length;
        var stuck = Directory.GetFiles(Path.Combine(OutboxDir, "processing"), "*.json", SearchOption.AllDirectories).Length;

        Report("corrupt outbox file `{\"data\":[1,2,3]}` (3 events by name) + a valid one (50) on disk at start; 2,000 live", run, $"{quarantined} file(s) in quarantine/, {stuck} left leased in processing/; {tap.Duplicates} ids acknowledged twice", Preexisting);
        run.AssertCore();
        Assert.Equal(Offered + 50, run.Read.Delivered);
        Assert.True(
            quarantined == 1 && run.Read.Dropped.GetValueOrDefault(DropReason.OutboxCorrupt) == 3,
            $"DEFECT: the corrupt file was not quarantined ({quarantined} in quarantine/, {stuck} left leased in processing/, outbox_corrupt = {run.Read.Dropped.GetValueOrDefault(DropReason.OutboxCorrupt)}): {run.Read}. See the outbox log lines in the test output.");
    }

    [Fact]
    public async Task FaultMatrix_PoisonOutboxFile_ItsEventsDroppedInvalid_NoRetryLoop()
    {
        const int Poison = 10;
        var ready = Path.Combine(OutboxDir, "ready");
        Directory.CreateDirectory(ready);
        await File.WriteAllTextAsync(Path.Combine(ready, OutboxName(DateTimeOffset.UtcNow.AddMinutes(-1).UtcTicks, Poison)), EventsBody("poison", Poison));

        await using var emulator = await MpmEmulator.StartAsync();
        await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { RejectPredictionIds = [.. Enumerable.Range(0, Poison).Select(i => $"poison-{i}")] });
        await using var tap = await WireTap.ProxyAsync(emulator.BaseUrl);
        await using var client = await StartAsync(Settings(tap.BaseUrl, outbox: true));
        Offer(client, "p");
        await FlushAsync(client);
        await WaitAllSettledAsync(client, Poison, TimeSpan.FromSeconds(8));
        var run = await FinishAsync(client, emulator, tap, Poison);

        Report($"poison outbox file: {Poison} events the backend refuses, on disk at start; 2,000 live", run, $"{tap.Posts} POSTs; {tap.Duplicates} ids acknowledged twice", Poison);
        run.AssertCore();
        Assert.Equal(Offered, run.Read.Delivered);
        Assert.Equal(Poison, run.Read.Dropped.GetValueOrDefault(DropReason.Invalid));
        Assert.Equal(0, run.Read.InOutbox);
        Assert.Equal(0, tap.Duplicates);
    }

    // ---------------------------------------------------------------- rows against hostile loopback servers

    [Fact]
    public async Task FaultMatrix_400ForEveryPost_FewRequests_NothingDelivered()
    {
        await using var server = await WireTap.HostileAsync(c => WireTap.Answer(c, 400, """{"code":400,"msg":"bad request"}"""));
        await using var client = await StartAsync(Settings(server.BaseUrl, outbox: false));

        Offer(client, "b");
        await FlushAsync(client);
        var run = await FinishAsync(client, null, server);
        var circuit = client.Logs.GetSnapshot().Any(r => r.Message.Contains("circuit open", StringComparison.OrdinalIgnoreCase));

        Report("400 to every POST", run, $"{server.Posts} POSTs for {Offered} events; circuit opened: {(circuit ? "yes" : "no")}");
        run.AssertCore();
        Assert.Equal(0, run.Read.Delivered);
        Assert.True(server.Posts <= 50, $"DEFECT: a backend that refuses everything got {server.Posts} POSTs for {Offered} events (budget {SplittingDeliveryBudget(1000)} per batch of 1000; the circuit {(circuit ? "opened" : "never opened")})");
    }

    [Fact]
    public async Task FaultMatrix_Redirect_IsNotADelivery_AndIsNotFollowed()
    {
        await using var elsewhere = await WireTap.HostileAsync(c => WireTap.Answer(c, 200, """{"code":200}"""));
        await using var server = await WireTap.HostileAsync(c =>
        {
            WireTap.Redirect(c, elsewhere.BaseUrl);
            return Task.CompletedTask;
        });
        await using var client = await StartAsync(Settings(server.BaseUrl, outbox: false));

        Offer(client, "r");
        await FlushAsync(client);
        var run = await FinishAsync(client, null, server);

        Report("302 to another server that answers 200", run, $"{server.Posts} POSTs; {elsewhere.Posts} reached the other server");
        run.AssertCore();
        Assert.Equal(0, run.Read.Delivered);
        Assert.Equal(0, elsewhere.Posts);
    }

    [Fact]
    public async Task FaultMatrix_Html200_IsNotADelivery()
    {
        await using var server = await WireTap.HostileAsync(c => WireTap.Answer(c, 200, "<html><body>Please sign in</body></html>", "text/html"));
        await using var client = await StartAsync(Settings(server.BaseUrl, outbox: false));

        Offer(client, "h");
        await FlushAsync(client);
        var run = await FinishAsync(client, null, server);

        Report("200 with an HTML page", run, $"{server.Posts} POSTs");
        run.AssertCore();
        Assert.Equal(0, run.Read.Delivered);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task FaultMatrix_Blackhole_AcceptsAndNeverAnswers(bool outbox)
    {
        await using var server = await WireTap.HostileAsync(WireTap.NeverAnswer);
        await using var client = await StartAsync(Settings(server.BaseUrl, outbox, ("BatchSendingTimeout", "00:00:01")));
        await client.Client.HealthChecked;

        Offer(client, "k");
        var clock = Stopwatch.StartNew();
        TimeSpan? allOnDisk = null;
        if (outbox)
        {
            allOnDisk = await WaitForAsync(() => client.Client.Ledger.InOutbox == Offered, TimeSpan.FromSeconds(10)) ? clock.Elapsed : null;
        }

        await FlushAsync(client, TimeSpan.FromSeconds(1));
        var run = await FinishAsync(client, null, server);

        var notes = outbox
            ? $"all {Offered} on disk {(allOnDisk is { } t ? $"{t.TotalMilliseconds:F0} ms" : "NOT within 10 s")} after the last offer; {server.Posts} POSTs"
            : $"read 1 s into the flush, while the first batch's request hangs; after the end: {Describe(run.End)}; {server.Posts} POSTs";
        Report($"blackhole: accepts, never answers (attempt timeout 1 s; {(outbox ? "outbox" : "no outbox")})", run, notes);
        run.AssertCore();
        Assert.Equal(0, run.Read.Delivered);
        if (outbox)
        {
            Assert.True(allOnDisk < TimeSpan.FromSeconds(2), $"the events reached the outbox after {allOnDisk?.TotalMilliseconds ?? double.NaN:F0} ms");
        }
    }

    // ---------------------------------------------------------------- SIGKILL during an outage

    [Theory]
    [InlineData("503")]
    [InlineData("silent")]
    public async Task FaultMatrix_SigkillDuringAnOutage_OnlyEventsYoungerThanTheSpillIntervalAreLost(string backend)
    {
        const int SpillIntervalMs = 200; // the child's CometMpm:Outbox:SpillInterval
        await using var emulator = backend == "503" ? await MpmEmulator.StartAsync() : null;
        await using var silent = backend == "503" ? null : await WireTap.HostileAsync(WireTap.NeverAnswer, silentPing: true);
        if (emulator is not null)
        {
            await emulator.Client.SetFaultsAsync(new EmulatorFaultPlan { NextRequests = new EmulatorNextRequestsFault(1_000_000, 503) });
        }

        var childDll = Path.Combine(AppContext.BaseDirectory.Replace("CometMpm.Tests", "CometMpm.OutboxChild", StringComparison.Ordinal), "CometMpm.OutboxChild.dll");
        Assert.True(File.Exists(childDll), childDll);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { childDll, (emulator?.BaseUrl ?? silent!.BaseUrl).ToString(), OutboxDir, "2000" })
        {
            start.ArgumentList.Add(arg);
        }

        // (events logged so far, Unix ms when the last of them was accepted), one per "logged N T" line
        var blocks = new List<(int Logged, long At)>();
        long killedAt;
        using (var child = Process.Start(start)!)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var first = await child.StandardOutput.ReadLineAsync(cts.Token) ?? throw new InvalidOperationException("the child printed nothing");
                blocks.Add(ParseLogged(first));
                var killAt = blocks[0].At + 5_000 + Random.Shared.Next(100); // off the 50 ms rhythm of the child's blocks
                var reading = Task.Run(async () =>
                {
                    while (await child.StandardOutput.ReadLineAsync(cts.Token) is { } line)
                    {
                        lock (blocks)
                        {
                            blocks.Add(ParseLogged(line));
                        }
                    }
                });
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, killAt - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())));
                killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                child.Kill(); // SIGKILL: no shutdown, no flush
                await child.WaitForExitAsync(cts.Token);
                await reading;
            }
            finally
            {
                if (!child.HasExited)
                {
                    child.Kill();
                }
            }
        }

        var onDisk = OutboxIds();
        var logged = Math.Max(blocks[^1].Logged, onDisk.Count == 0 ? 0 : onDisk.Max() + 1);
        var lostAges = new List<long>();
        for (var i = 0; i < logged; i++)
        {
            if (!onDisk.Contains(i))
            {
                var block = blocks.FirstOrDefault(b => b.Logged > i);
                lostAges.Add(killedAt - (block == default ? killedAt : block.At));
            }
        }

        var delivered = emulator is null ? 0 : (await emulator.Client.GetModelsAsync()).Sum(m => m.Predictions);
        var oldestLost = lostAges.Count == 0 ? 0 : lostAges.Max();
        var youngestLost = lostAges.Count == 0 ? 0 : lostAges.Min();
        var oldestOnDiskMissing = lostAges.Count(a => a > SpillIntervalMs);
        var backendName = backend == "503" ? "503 backend" : "silent backend (ping too)";
        AppendTable(
            $"| SIGKILL 5 s into logging at 2,000/s, {backendName} (outbox, spill interval {SpillIntervalMs} ms) | {logged} | {logged} | {delivered} | — (the child's ledger died with it) | {onDisk.Count} | — | {lostAges.Count} lost | " +
            (lostAges.Count == 0 ? "nothing lost |" : $"lost events were logged {youngestLost}–{oldestLost} ms before the kill; {oldestOnDiskMissing} of them more than the spill interval before |"));
        _output.WriteLine($"blocks: {blocks.Count}, first at {blocks[0].At}, last {blocks[^1].Logged} at {blocks[^1].At}, killed at {killedAt}");

        Assert.True(onDisk.Count > 0 || backend != "503", "nothing reached the outbox");
        Assert.Equal(0, delivered);
        Assert.True(
            oldestLost <= SpillIntervalMs + 1_000,
            $"DEFECT: {lostAges.Count} events were lost, the oldest logged {oldestLost} ms before the kill ({oldestOnDiskMissing} of them more than the spill interval of {SpillIntervalMs} ms before); the bound allows {SpillIntervalMs} ms + 1 s of slack");
    }

    // ---------------------------------------------------------------- helpers

    private Dictionary<string, string?> Settings(Uri server, bool outbox, params (string Key, string Value)[] extra)
    {
        var settings = TestClient.Settings(server);
        settings["CometMpm:MaxRetryAttempts"] = "1";
        settings["CometMpm:RetryBaseDelay"] = "00:00:00.010";
        settings["CometMpm:BatchSendingTimeout"] = "00:00:05";
        settings["CometMpm:PingTimeout"] = "00:00:02";
        settings["CometMpm:CircuitBreakDuration"] = "00:00:00.500";
        settings["CometMpm:EndTimeout"] = "00:00:02";
        settings["CometMpm:MaxBatchTime"] = "00:00:00.200";
        if (outbox)
        {
            settings["CometMpm:Outbox:Directory"] = OutboxDir;
            settings["CometMpm:Outbox:SpillInterval"] = "00:00:00.200";
        }

        foreach (var (key, value) in extra)
        {
            settings["CometMpm:" + key] = value;
        }

        return settings;
    }

    private static void Offer(TestClient client, string prefix)
    {
        for (var i = 0; i < Offered; i++)
        {
            client.Mpm.LogEvent($"{prefix}-{i}", Features(("i", i), ("s", "x")));
        }
    }

    /// <summary>FlushAsync bounded (a flush during an outage answers false once its wait runs out).</summary>
    private static async Task<bool> FlushAsync(TestClient client, TimeSpan? bound = null)
    {
        using var cts = new CancellationTokenSource(bound ?? TimeSpan.FromSeconds(5));
        return await client.Mpm.FlushAsync(cts.Token);
    }

    /// <summary>The ledger once it reads the same twice 50 ms apart (the counters are read one by one).</summary>
    private static async Task<LedgerSnapshot> QuietLedgerAsync(TestClient client)
    {
        var last = client.Client.Ledger;
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(50);
            var next = client.Client.Ledger;
            if (next.ToString() == last.ToString())
            {
                return next;
            }

            last = next;
        }

        return last;
    }

    private static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    /// <summary>Waits until nothing is queued or in the outbox and every event is delivered or dropped.</summary>
    private static Task<bool> WaitAllSettledAsync(TestClient client, long preexisting = 0, TimeSpan? timeout = null) =>
        WaitForAsync(
            () => client.Client.Ledger is var l && l.Pending == 0 && l.InOutbox == 0 && l.Delivered + l.DroppedTotal == l.Accepted + preexisting,
            timeout ?? SettleTimeout);

    /// <summary>Reads the ledger (after flush, and heal when the row heals), ends the client, reads it again, and counts what the backend stored.</summary>
    private async Task<Outcome> FinishAsync(TestClient client, MpmEmulator? emulator, WireTap tap, long preexisting = 0)
    {
        var read = await QuietLedgerAsync(client);
        var clock = Stopwatch.StartNew();
        await client.Mpm.EndAsync();
        var ended = clock.Elapsed;
        var end = client.Client.Ledger;
        var stored = emulator is null ? tap.Acknowledged.Count : (await StoredIdsAsync(emulator)).Count;
        foreach (var record in client.Logs.GetSnapshot().Where(r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Warning).Take(12))
        {
            _output.WriteLine($"  log {record.Level}: {record.Message}");
        }

        _output.WriteLine($"  read: {read}");
        _output.WriteLine($"  end ({ended.TotalSeconds:F1} s): {end}");
        _output.WriteLine($"  backend stored {stored} distinct ids");
        return new Outcome(read, end, stored, preexisting);
    }

    private static void AssertAccounted(LedgerSnapshot ledger, string when, long preexisting = 0) =>
        Assert.True(ledger.Unaccounted + preexisting == 0, $"DEFECT: {ledger.Unaccounted + preexisting} events unaccounted {when}: {ledger}");

    private static string Describe(LedgerSnapshot l) =>
        $"delivered {l.Delivered}, dropped {(l.Dropped.Count == 0 ? "0" : string.Join(", ", l.Dropped.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"{d.Key} {d.Value}")))}, in outbox {l.InOutbox}, pending {l.Pending}";

    private void Report(string fault, Outcome run, string notes, long preexisting = 0)
    {
        var l = run.Read;
        var dropped = l.Dropped.Count == 0 ? "—" : string.Join(", ", l.Dropped.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"{d.Key} {d.Value}"));
        var accepted = preexisting == 0 ? $"{l.Accepted}" : $"{l.Accepted} (+{preexisting} on disk)";
        AppendTable($"| {fault} | {Offered} | {accepted} | {l.Delivered} | {dropped} | {l.InOutbox} | {l.Pending} | {l.Unaccounted + preexisting} | backend stored {run.Stored}; {notes} |");
    }

    private void AppendTable(string line)
    {
        _output.WriteLine(line);
        if (Environment.GetEnvironmentVariable("COMETMPM_FAULT_TABLE") is { Length: > 0 } path)
        {
            lock (TableLock)
            {
                var header = !File.Exists(path) || new FileInfo(path).Length == 0;
                File.AppendAllText(path, (header ? TableHeader + "\n" : "") + line + "\n");
            }
        }
    }

    private HashSet<int> OutboxIds()
    {
        var ids = new HashSet<int>();
        // Complete batches only: a file in tmp/ was cut by the kill and is never sent.
        var complete = Directory.GetFiles(Path.Combine(OutboxDir, "ready"), "*.json")
            .Concat(Directory.GetFiles(Path.Combine(OutboxDir, "processing"), "*.json", SearchOption.AllDirectories));
        foreach (var file in complete)
        {
            foreach (var e in JsonDocument.Parse(File.ReadAllBytes(file)).RootElement.GetProperty("data").EnumerateArray())
            {
                ids.Add(int.Parse(e.GetProperty("predictionId").GetString()!["c-".Length..], CultureInfo.InvariantCulture));
            }
        }

        return ids;
    }

    private static (int Logged, long At) ParseLogged(string line)
    {
        var parts = line.Split(' ');
        return (int.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    private static int SplittingDeliveryBudget(int count) => (4 * (int)Math.Ceiling(Math.Log2(Math.Max(count, 2)))) + 4;

    private int Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                _output.WriteLine($"{file} {string.Join(' ', args)}: exit {process.ExitCode} {error.Trim()}");
            }

            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            _output.WriteLine($"{file}: {ex.Message}");
            return -1;
        }
    }

    /// <summary>What a row ended with: the ledger at the read point and after the end, and the distinct ids the backend stored.</summary>
    private sealed record Outcome(LedgerSnapshot Read, LedgerSnapshot End, int Stored, long Preexisting)
    {
        /// <summary>Nothing unaccounted at the read point or after the end; delivered = stored.</summary>
        public void AssertCore()
        {
            AssertAccounted(Read, "at the read point", Preexisting);
            AssertAccounted(End, "after the end", Preexisting);
            Assert.True(End.Delivered == Stored, $"DEFECT: the ledger says {End.Delivered} delivered, the backend stored {Stored} distinct ids: {End}");
        }
    }
}
