using System.Globalization;
using System.Text;
using CometMpm;
using CometMpm.Emulator;
using Examples.Iris;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// A nightly batch job: trains the Iris model, uploads the reference dataset (the training data as the model scores it)
// with UploadDatasetCsvAsync, then scores a batch of new flowers and logs every scored row through LogRowsAsync.
// Without an API key (CometMpm:ApiKey or COMET_API_KEY) the local MPM emulator runs in-process and receives both.
//   dotnet run --project examples/BatchScoring [-- --keep-running]
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });

MpmEmulator? emulator = null;
if (string.IsNullOrEmpty(builder.Configuration["CometMpm:ApiKey"]) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("COMET_API_KEY")))
{
    emulator = await MpmEmulator.StartAsync();
    builder.Services.AddCometMpm(options =>
    {
        options.ApiKey = "local-emulator";
        options.UrlOverride = emulator.BaseUrl;
    });
}
else
{
    builder.Services.AddCometMpm();
}

using var host = builder.Build();
await host.StartAsync();
var mpm = host.Services.GetRequiredService<ICometMpm>();
var batchSize = builder.Configuration.GetValue("BatchScoring:BatchSize", 500);
var seed = builder.Configuration.GetValue("BatchScoring:Seed", 3);

var model = IrisModel.Train(IrisModel.DefaultDataPath);
var reference = IrisModel.ReadRows(IrisModel.DefaultDataPath);
Console.WriteLine($"Model trained on {model.TrainingRows} rows; accuracy on {model.TestRows} held-out rows: {model.Accuracy:P1}");

// 1. The reference dataset, in the upload's CSV format: timestamp (ms), predictionId, feature_*, prediction_*, label_value_*.
var referencePath = Path.Combine(Path.GetTempPath(), $"iris-reference-{Environment.ProcessId}.csv");
try
{
    var start = DateTimeOffset.UtcNow.AddDays(-30).ToUnixTimeMilliseconds();
    var csv = new StringBuilder("timestamp,predictionId,feature_sepal_length,feature_sepal_width,feature_petal_length,feature_petal_width,prediction_species,prediction_probability,label_value_species\n");
    for (var i = 0; i < reference.Count; i++)
    {
        var row = reference[i];
        var predicted = model.Predict(row.ToFeatures());
        csv.Append(CultureInfo.InvariantCulture,
            $"{start + (i * 60_000L)},reference-{i + 1},{row.SepalLength},{row.SepalWidth},{row.PetalLength},{row.PetalWidth},{predicted.Species},{predicted.Probability},{row.Species}\n");
    }

    await File.WriteAllTextAsync(referencePath, csv.ToString());
    var upload = await mpm.UploadDatasetCsvAsync(referencePath, DatasetType.TrainingEvents, datasetName: "iris-reference",
        progress: new Progress<string>(line => Console.WriteLine($"  server: {line}")));
    Console.WriteLine($"Reference dataset: {(upload.Uploaded ? "uploaded" : "not uploaded")}, {reference.Count} rows, {upload.BytesSent} bytes in {upload.Requests} request(s). {upload.Message}");
}
finally
{
    File.Delete(referencePath);
}

// 2. Today's batch: new flowers (measured with noise), scored by the model, each row logged as a prediction event.
var random = new Random(seed);
var now = DateTimeOffset.UtcNow;
var batch = Enumerable.Range(1, batchSize).Select(i =>
{
    var source = reference[random.Next(reference.Count)];
    float Noisy(float v) => MathF.Round(Math.Max(0.1f, v + ((random.NextSingle() - 0.5f) * 0.3f)), 1);
    var flower = new IrisFeatures(Noisy(source.SepalLength), Noisy(source.SepalWidth), Noisy(source.PetalLength), Noisy(source.PetalWidth));
    return new ScoredFlower($"batch-{now:yyyyMMdd}-{i:D5}", flower, model.Predict(flower), now.AddSeconds(-i));
});

var mapping = new RowMapping<ScoredFlower>(r => r.Id)
    .Feature("sepal_length", r => r.Flower.SepalLength)
    .Feature("sepal_width", r => r.Flower.SepalWidth)
    .Feature("petal_length", r => r.Flower.PetalLength)
    .Feature("petal_width", r => r.Flower.PetalWidth)
    .Output("species", r => r.Prediction.Species)
    .Output("probability", r => r.Prediction.Probability)
    .Timestamp(r => r.ScoredAt);
var result = await mpm.LogRowsAsync(batch, mapping);
var delivered = await mpm.FlushAsync();
Console.WriteLine($"Scored batch: {result.Logged} logged, {result.Rejected} rejected, {result.Dropped} dropped; delivered: {delivered}");
foreach (var rejection in result.Rejections)
{
    Console.WriteLine($"  row {rejection.Row}: {rejection.Reason}");
}

if (emulator is not null)
{
    foreach (var summary in await emulator.Client.GetModelsAsync())
    {
        Console.WriteLine($"Emulator holds {summary.Workspace}/{summary.Model}/{summary.Version}: {summary.Predictions} predictions, {summary.Labels} labels, {summary.Datasets} dataset rows");
    }

    Console.WriteLine($"MPM emulator: {emulator.BaseUrl}");
    if (args.Contains("--keep-running"))
    {
        Console.WriteLine("Press Ctrl+C to stop.");
        await host.WaitForShutdownAsync();
    }
}

await host.StopAsync();
if (emulator is not null)
{
    await emulator.DisposeAsync();
}

return result.Rejected == 0 && delivered ? 0 : 1;

/// <summary>One flower of the batch with the model's answer.</summary>
internal sealed record ScoredFlower(string Id, IrisFeatures Flower, IrisPrediction Prediction, DateTimeOffset ScoredAt);
