using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CometMpm.Emulator.Persistence;
using Xunit.Abstractions;
using static CometMpm.Emulator.Tests.TestSupport;

namespace CometMpm.Emulator.Tests;

public sealed class LoadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Store_BatchedInserts_SustainTensOfThousandsOfEventsPerSecond()
    {
        using var store = new EmulatorStore(null);
        const int Batches = 60, Size = 1000;
        var batches = Enumerable.Range(0, Batches).Select(b => (IReadOnlyList<IncomingEvent>)[.. Enumerable.Range(0, Size).Select(i =>
            new IncomingEvent("ws", "model", "1.0", $"id-{b}-{i}", false, 1717243200456 + i,
                """{"age":42,"income":42894.89,"country":"PT","card_present":false}""", """{"value":"legit","probability":0.97}""", null))]).ToList();
        await store.WriteAsync(StoreTarget.Predictions, null, batches[0], CancellationToken.None); // warm up

        var watch = Stopwatch.StartNew();
        foreach (var batch in batches.Skip(1))
        {
            await store.WriteAsync(StoreTarget.Predictions, null, batch, CancellationToken.None);
        }

        var perSecond = (Batches - 1) * Size / watch.Elapsed.TotalSeconds;
        output.WriteLine($"store insert throughput: {perSecond:N0} events/s");
        // The target is >= 50,000 events/s (about 100,000-140,000 measured alone on 2 cores); the bound is
        // halved so a CI run sharing the cores with other test assemblies does not flake.
        Assert.True(perSecond >= 25_000, $"{perSecond:N0} events/s");
    }

    [Fact]
    public async Task EventsBatch_ThousandEventBatchesOverHttp_ReportsThroughput()
    {
        await using var emulator = await MpmEmulator.StartAsync();
        using var http = CreateHttp(emulator);
        const int Batches = 30, Size = 1000;
        var bodies = Enumerable.Range(0, Batches)
            .Select(b => Batch([.. Enumerable.Range(0, Size).Select(i => Event($"\"h-{b}-{i}\"", """{"age":42,"income":42894.89,"country":"PT"}"""))]))
            .ToList();

        var watch = Stopwatch.StartNew();
        foreach (var body in bodies)
        {
            using var response = await http.PostAsync("v2/events/batch", Json(body));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var perSecond = Batches * Size / watch.Elapsed.TotalSeconds;
        output.WriteLine($"HTTP ingestion throughput (validate + store, 1000-event batches): {perSecond:N0} events/s");
        Assert.Equal(Batches * Size, (await emulator.Client.GetModelsAsync()).Single().Predictions);
    }

    [Fact]
    public async Task EventsCsv_200MegabyteStreamedUpload_ChildProcessRssStaysUnder200MB()
    {
        const long TargetBytes = 200L * 1024 * 1024;
        var dbPath = TempDbPath();
        var (emulator, root) = await StartChildEmulatorAsync(dbPath);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(root + "mpm/"), Timeout = TimeSpan.FromMinutes(3) };
            http.DefaultRequestHeaders.Add("Authorization", ApiKey);
            using var form = new MultipartFormDataContent("0123456789abcdef0123456789abcdef")
            {
                { new StringContent("ws"), "workspaceName" },
                { new StringContent("big"), "modelName" },
                { new StringContent("1.0"), "modelVersion" },
            };
            var file = new StreamContent(new GeneratedCsvStream(TargetBytes), 64 * 1024);
            file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
            form.Add(file, "file", "generated.csv");

            long peakSampled = 0;
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    peakSampled = Math.Max(peakSampled, ReadStatusKb(emulator.Id, "VmRSS:"));
                    await Task.Delay(50);
                }
            });

            var watch = Stopwatch.StartNew();
            using var response = await http.PostAsync("v2/data/events/csv", form);
            var text = await response.Content.ReadAsStringAsync();
            watch.Stop();
            await sampling.CancelAsync();
            await sampler;
            var highWater = ReadStatusKb(emulator.Id, "VmHWM:");

            output.WriteLine(text.Trim());
            output.WriteLine($"uploaded {TargetBytes / (1024 * 1024)} MiB in {watch.Elapsed.TotalSeconds:F1} s; " +
                $"emulator RSS peak sampled {peakSampled / 1024} MiB, VmHWM {highWater / 1024} MiB");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("processed 100000 rows", text);
            Assert.Matches(@"done: (\d+) rows, \1 stored, 0 duplicates ignored, 0 invalid", text);
            Assert.True(highWater < 200 * 1024, $"VmHWM {highWater / 1024} MiB");
        }
        finally
        {
            emulator.Kill(entireProcessTree: true);
            await emulator.WaitForExitAsync();
            emulator.Dispose();
            DeleteDb(dbPath);
        }
    }

    private static async Task<(Process Process, string Root)> StartChildEmulatorAsync(string dbPath)
    {
        var dll = ToolDll();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { dll, "--urls", "http://127.0.0.1:0", "--db", dbPath })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        try
        {
            _ = process.StandardError.ReadToEndAsync(); // keep draining the child's error console
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token)
                    ?? throw new InvalidOperationException("the emulator exited before it listened");
                const string Marker = "COMET_URL_OVERRIDE=";
                var at = line.IndexOf(Marker, StringComparison.Ordinal);
                if (at >= 0)
                {
                    var root = line[(at + Marker.Length)..].Split(' ')[0].TrimEnd('/') + "/";
                    _ = process.StandardOutput.ReadToEndAsync(); // keep draining the child's console
                    return (process, root);
                }
            }
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    private static long ReadStatusKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    /// <summary>A CSV generated on the fly (about 1 KiB per row), never held in memory.</summary>
    private sealed class GeneratedCsvStream(long targetBytes) : Stream
    {
        private static readonly string Padding = new('x', 900);
        private byte[] _pending = Encoding.UTF8.GetBytes("timestamp,predictionId,feature_text,feature_num,feature_city,prediction_value,label_value_y\n");
        private int _offset;
        private long _produced;
        private long _row;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _produced; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_offset >= _pending.Length)
            {
                if (_produced >= targetBytes)
                {
                    return 0;
                }

                _row++;
                _pending = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"{1713006000000 + _row},row-{_row},\"{Padding}, \"\"{_row}\"\"\",{_row * 0.5},city{_row % 17},{(_row % 2 == 0 ? "yes" : "no")},{_row % 3}\n"));
                _offset = 0;
            }

            var n = Math.Min(buffer.Length, _pending.Length - _offset);
            _pending.AsSpan(_offset, n).CopyTo(buffer);
            _offset += n;
            _produced += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var n = Read(buffer.Span[total..]);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return ValueTask.FromResult(total);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
