using System.Diagnostics;
using System.Globalization;
using CometMpm;

// Usage: dotnet run -c Release --project benchmarks/CometMpm.UploadMemory -- [size-in-MiB, default 1024]
// Writes a CSV of that size to a temporary file, uploads it with UploadDatasetCsvAsync to a loopback sink
// that reads and discards the body, and reports the process's peak working set while uploading.
var sizeMiB = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1024;
var path = Path.Combine(Path.GetTempPath(), $"cometmpm-upload-{sizeMiB}MiB.csv");
if (!File.Exists(path) || new FileInfo(path).Length < sizeMiB * 1024L * 1024)
{
    await using var writer = new StreamWriter(path);
    await writer.WriteLineAsync("timestamp,predictionId,feature_age,feature_country,feature_income,prediction_value,prediction_probability,label_value_truth");
    long rows = 0;
    while (writer.BaseStream.Length < sizeMiB * 1024L * 1024)
    {
        await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{1713006000000 + rows},id-{rows},{20 + (rows % 60)},PT,{30000 + (rows % 90000)}.5,approve,0.{rows % 100:D2},approve"));
        rows++;
    }
}

var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = null);
builder.Logging.ClearProviders();
var sink = builder.Build();
long received = 0;
sink.MapGet("/mpm/isAlive/ping", () => Results.Ok());
sink.MapPost("/mpm/v2/data/events/csv", async (HttpContext context) =>
{
    var buffer = new byte[64 * 1024];
    int read;
    while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
    {
        Interlocked.Add(ref received, read);
    }

    return Results.Text("done\n");
});
await sink.StartAsync();
var url = sink.Urls.First();

var services = new ServiceCollection();
services.AddLogging();
services.AddCometMpm(o =>
{
    o.ApiKey = "upload-memory";
    o.WorkspaceName = "bench";
    o.ModelName = "upload";
    o.ModelVersion = "1";
    o.UrlOverride = new Uri(url);
});
#pragma warning disable ASP0000 // the client is deliberately separate from the sink app it uploads to
await using var provider = services.BuildServiceProvider();
#pragma warning restore ASP0000
var mpm = provider.GetRequiredService<ICometMpm>();

var process = Process.GetCurrentProcess();
process.Refresh();
var before = process.WorkingSet64;
long peak = before;
using var sampling = new CancellationTokenSource();
var sampler = Task.Run(async () =>
{
    while (!sampling.IsCancellationRequested)
    {
        process.Refresh();
        peak = Math.Max(peak, process.WorkingSet64);
        await Task.Delay(50);
    }
});

var stopwatch = Stopwatch.StartNew();
var result = await mpm.UploadDatasetCsvAsync(path, DatasetType.Events);
stopwatch.Stop();
await sampling.CancelAsync();
await sampler;

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"uploaded {new FileInfo(path).Length / 1048576.0:F0} MiB in {result.Requests} requests, {stopwatch.Elapsed.TotalSeconds:F1} s ({received / 1048576.0 / stopwatch.Elapsed.TotalSeconds:F0} MiB/s); working set before {before / 1048576.0:F0} MiB, peak {peak / 1048576.0:F0} MiB (client and loopback sink in one process)"));
await sink.StopAsync();
