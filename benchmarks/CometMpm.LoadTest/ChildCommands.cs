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

namespace CometMpm.LoadTest;

public sealed record LoggedDecision(string PredictionId, double Probability, string Decision);

public sealed record LoggedIrisPrediction(string PredictionId, string Species, double Probability);

internal static class ChildCommands
{
    /// <summary>The loopback sink (a Kestrel endpoint that reads and discards the body and answers 200).</summary>
    public static async Task<int> SinkAsync(Arguments options)
    {
        await using var sink = await LoopbackSink.StartAsync(options.Int("port", 0), gateClosed: options.Flag("gate"));
        Console.WriteLine($"READY {sink.BaseUrl}");
        await WaitForStopAsync(sink.Stopping);
        return 0;
    }

    /// <summary>
    /// The API under load, <c>POST /predict</c>. <c>--app iris</c> is the IrisApi example's work: the ML.NET model trained at
    /// start scores a 4-feature flower (species and probability out). <c>--app loans</c> scores a 10-property loan input with
    /// a small logistic model (the MinimalApi example's work). Modes: <c>off</c> no monitoring; <c>logevent</c> the handler
    /// calls <c>ICometMpm.LogEvent</c> with the input and output features (as the examples that log by hand do);
    /// <c>capture</c> the endpoint has <c>.WithCometMpm()</c>. When on, the client's sender really delivers to the sink.
    /// </summary>
    public static async Task<int> ServeApiAsync(Arguments options)
    {
        var mode = options.String("mode", "off");
        var application = options.String("app", "iris");
        var sink = new Uri(options.String("sink", "http://127.0.0.1:9/"));
        var batch = options.Int("batch", 1000);
        if (mode is not ("off" or "logevent" or "capture") || application is not ("iris" or "loans"))
        {
            throw new ArgumentException($"Unknown mode '{mode}' or app '{application}': use --mode off|logevent|capture and --app iris|loans.");
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        if (mode != "off")
        {
            builder.Services.AddCometMpm(mpm =>
            {
                mpm.ApiKey = "load-test";
                mpm.WorkspaceName = "load";
                mpm.ModelName = application;
                mpm.ModelVersion = "1";
                mpm.UrlOverride = sink;
                mpm.MaxBatchTime = TimeSpan.FromSeconds(1);
                mpm.MaxBatchSize = batch;
            });
        }

        if (mode == "capture")
        {
            builder.Services.AddCometMpmAspNetCore();
        }

        var app = builder.Build();
        var endpoint = application == "iris" ? MapIris(app, mode) : MapLoans(app, mode);
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

    private static RouteHandlerBuilder MapIris(WebApplication app, string mode)
    {
        var model = IrisModel.Train(IrisModel.DefaultDataPath);
        if (mode != "logevent")
        {
            return app.MapPost("/predict", (IrisFeatures flower) => model.Predict(flower));
        }

        return app.MapPost("/predict", (IrisFeatures flower, ICometMpm mpm) =>
        {
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

    private static RouteHandlerBuilder MapLoans(WebApplication app, string mode)
    {
        if (mode != "logevent")
        {
            return app.MapPost("/predict", (LoanRequest input) => Score(input));
        }

        return app.MapPost("/predict", (LoanRequest input, ICometMpm mpm) =>
        {
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
