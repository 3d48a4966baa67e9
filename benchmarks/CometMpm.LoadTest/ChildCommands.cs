using System.Net;
using CometMpm.Benchmarks;
using CometMpm.Benchmarks.Models;
using Examples.Iris;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;

namespace CometMpm.LoadTest;

public sealed record LoggedDecision(string PredictionId, double Probability, string Decision);

public sealed record LoggedIrisPrediction(string PredictionId, string Species, double Probability);

internal static class ChildCommands
{
    /// <summary>
    /// The loopback sink (a Kestrel endpoint that reads and discards the body and answers 200); <c>--count</c> also counts
    /// the MPM events and OTLP log records it receives (<c>GET /control/stats</c>).
    /// </summary>
    public static async Task<int> SinkAsync(Arguments options)
    {
        await using var sink = await LoopbackSink.StartAsync(options.Int("port", 0), gateClosed: options.Flag("gate"), countRecords: options.Flag("count"));
        Console.WriteLine($"READY {sink.BaseUrl}");
        await WaitForStopAsync(sink.Stopping);
        return 0;
    }

    /// <summary>
    /// The API under load, <c>POST /predict</c>. <c>--app iris</c> is the IrisApi example's work: the ML.NET model trained at
    /// start scores a 4-feature flower (species and probability out). <c>--app loans</c> scores a 10-property loan input with
    /// a small logistic model (the MinimalApi example's work). Modes: <c>off</c> no monitoring; <c>logevent</c> the handler
    /// calls <c>ICometMpm.LogEvent</c> with the input and output features (as the examples that log by hand do);
    /// <c>capture</c> the endpoint has <c>.WithCometMpm()</c>; <c>otel</c> the handler logs the same record (prediction id,
    /// the input features, the two outputs) through a source-generated <see cref="PredictionLog"/> method to
    /// <c>ILogger</c>, exported by OpenTelemetry's batch log processor and OTLP/HTTP (protobuf) exporter to the sink's
    /// <c>/v1/logs</c>. When on, the client's sender (or the exporter) really delivers to the sink. <c>--spin N</c> adds N
    /// iterations of <see cref="Work.Spin"/> to every request, before the model. <c>GET /control/allocated</c> answers the
    /// bytes this process has allocated so far, so the parent can report allocation per request.
    /// </summary>
    public static async Task<int> ServeApiAsync(Arguments options)
    {
        var mode = options.String("mode", "off");
        var application = options.String("app", "iris");
        var sink = new Uri(options.String("sink", "http://127.0.0.1:9/"));
        var batch = options.Int("batch", 1000);
        var spin = (long)options.Int("spin", 0);
        if (mode is not ("off" or "logevent" or "capture" or "otel") || application is not ("iris" or "loans"))
        {
            throw new ArgumentException($"Unknown mode '{mode}' or app '{application}': use --mode off|logevent|capture|otel and --app iris|loans.");
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        if (mode == "otel")
        {
            // As the web template's appsettings.json: ASP.NET Core's per-request Information logs off, the app's on. Without
            // this every request would export several hosting records besides the prediction.
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            builder.Logging.AddOpenTelemetry(otel => otel.AddOtlpExporter((exporter, processor) =>
            {
                exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
                exporter.Endpoint = new Uri(sink, "otel/v1/logs"); // the sink counts by first path segment: the mode
                processor.ExportProcessorType = ExportProcessorType.Batch;

                // The MPM client's settings in the other modes: batches of --batch, sent at least every second, and the
                // same queue bound (CometMpmOptions.QueueCapacity's default) before records are dropped.
                processor.BatchExportProcessorOptions.MaxExportBatchSize = batch;
                processor.BatchExportProcessorOptions.ScheduledDelayMilliseconds = 1000;
                processor.BatchExportProcessorOptions.MaxQueueSize = Math.Max(batch, 100_000);
            }));
        }
        else if (mode != "off")
        {
            builder.Services.AddCometMpm(mpm =>
            {
                mpm.ApiKey = "load-test";
                mpm.WorkspaceName = "load";
                mpm.ModelName = application;
                mpm.ModelVersion = "1";
                mpm.UrlOverride = sink;
                mpm.BasePath = $"/{mode}/mpm/"; // the sink counts by first path segment: the mode
                mpm.MaxBatchTime = TimeSpan.FromSeconds(1);
                mpm.MaxBatchSize = batch;
            });
        }

        if (mode == "capture")
        {
            builder.Services.AddCometMpmAspNetCore();
        }

        var app = builder.Build();
        var endpoint = application == "iris" ? MapIris(app, mode, spin) : MapLoans(app, mode, spin);
        app.MapGet("/control/allocated", () => GC.GetTotalAllocatedBytes(precise: true));
        if (mode == "capture")
        {
            endpoint.WithCometMpm();
        }

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine($"READY {address}/");
        await WaitForStopAsync(app.Lifetime.ApplicationStopping);
        await app.StopAsync();
        return 0;
    }

    private static RouteHandlerBuilder MapIris(WebApplication app, string mode, long spin)
    {
        var model = IrisModel.Train(IrisModel.DefaultDataPath);
        if (mode == "logevent")
        {
            return app.MapPost("/predict", (IrisFeatures flower, ICometMpm mpm) =>
            {
                _ = Work.Spin(spin);
                var prediction = model.Predict(flower);
                var predictionId = Guid.CreateVersion7().ToString();
                mpm.LogEvent(
                    predictionId,
                    inputFeatures: new Dictionary<string, object?>
                    {
                        ["sepal_length"] = flower.SepalLength,
                        ["sepal_width"] = flower.SepalWidth,
                        ["petal_length"] = flower.PetalLength,
                        ["petal_width"] = flower.PetalWidth,
                    },
                    outputFeatures: new Dictionary<string, object?> { ["value"] = prediction.Species, ["probability"] = prediction.Probability });
                return new LoggedIrisPrediction(predictionId, prediction.Species, prediction.Probability);
            });
        }

        if (mode == "otel")
        {
            return app.MapPost("/predict", (IrisFeatures flower, ILogger<PredictionLog> log) =>
            {
                _ = Work.Spin(spin);
                var prediction = model.Predict(flower);
                var predictionId = Guid.CreateVersion7().ToString();
                PredictionLog.Iris(
                    log, predictionId, flower.SepalLength, flower.SepalWidth, flower.PetalLength, flower.PetalWidth, prediction.Species, prediction.Probability);
                return new LoggedIrisPrediction(predictionId, prediction.Species, prediction.Probability);
            });
        }

        return app.MapPost("/predict", (IrisFeatures flower) =>
        {
            _ = Work.Spin(spin);
            return model.Predict(flower);
        });
    }

    private static RouteHandlerBuilder MapLoans(WebApplication app, string mode, long spin)
    {
        if (mode == "logevent")
        {
            return app.MapPost("/predict", (LoanRequest input, ICometMpm mpm) =>
            {
                _ = Work.Spin(spin);
                var decision = Score(input);
                var predictionId = Guid.CreateVersion7().ToString();
                mpm.LogEvent(
                    predictionId,
                    inputFeatures: new Dictionary<string, object?>
                    {
                        ["amount"] = input.Amount,
                        ["income"] = input.Income,
                        ["debt_ratio"] = input.DebtRatio,
                        ["credit_score"] = input.CreditScore,
                        ["age"] = input.Age,
                        ["term_months"] = input.TermMonths,
                        ["country"] = input.Country,
                        ["purpose"] = input.Purpose,
                        ["has_collateral"] = input.HasCollateral,
                        ["segment"] = input.Segment,
                    },
                    outputFeatures: new Dictionary<string, object?> { ["value"] = decision.Decision, ["probability"] = decision.Probability });
                return new LoggedDecision(predictionId, decision.Probability, decision.Decision);
            });
        }

        if (mode == "otel")
        {
            return app.MapPost("/predict", (LoanRequest input, ILogger<PredictionLog> log) =>
            {
                _ = Work.Spin(spin);
                var decision = Score(input);
                var predictionId = Guid.CreateVersion7().ToString();
                PredictionLog.Loan(
                    log, predictionId, input.Amount, input.Income, input.DebtRatio, input.CreditScore, input.Age, input.TermMonths,
                    input.Country, input.Purpose, input.HasCollateral, input.Segment, decision.Decision, decision.Probability);
                return new LoggedDecision(predictionId, decision.Probability, decision.Decision);
            });
        }

        return app.MapPost("/predict", (LoanRequest input) =>
        {
            _ = Work.Spin(spin);
            return Score(input);
        });
    }

    public static LoanDecision Score(LoanRequest a)
    {
        var ratio = a.Income <= 0 ? 1 : a.Amount / a.Income;
        var z = 2.0 - (3.0 * ratio) - (4.0 * a.DebtRatio) + (0.004 * (a.CreditScore - 650)) + (0.02 * (a.Age - 40))
            + (a.HasCollateral ? 0.5 : 0) + (a.Segment == Segment.Business ? -0.2 : 0);
        var p = Math.Round(1 / (1 + Math.Exp(-z)), 4);
        return new LoanDecision(p, p >= 0.5 ? "approve" : "decline");
    }

    /// <summary>Runs until Ctrl+C, SIGTERM (the host's lifetime stops) or the parent kills the process.</summary>
    private static async Task WaitForStopAsync(CancellationToken stopping)
    {
        var stop = new TaskCompletionSource();
        using var registration = stopping.Register(() => stop.TrySetResult());
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.TrySetResult();
        };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
        await stop.Task;
    }
}

/// <summary>
/// The otel mode's record, written as a .NET team would: source-generated <see cref="LoggerMessageAttribute"/> methods
/// (no format parsing, no params array; the generated state struct becomes the log record's attributes). The same fields
/// the MPM modes send: the prediction id, the input features and the two outputs.
/// </summary>
public sealed partial class PredictionLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "prediction {PredictionId} {SepalLength} {SepalWidth} {PetalLength} {PetalWidth} {Species} {Probability}")]
    public static partial void Iris(
        ILogger logger, string predictionId, float sepalLength, float sepalWidth, float petalLength, float petalWidth, string species, double probability);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "prediction {PredictionId} {Amount} {Income} {DebtRatio} {CreditScore} {Age} {TermMonths} {Country} {Purpose} {HasCollateral} {Segment} {Decision} {Probability}")]
    public static partial void Loan(
        ILogger logger, string predictionId, double amount, double income, double debtRatio, double creditScore, int age, int termMonths,
        string country, string purpose, bool hasCollateral, Segment segment, string decision, double probability);
}
