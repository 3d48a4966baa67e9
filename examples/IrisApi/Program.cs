using CometMpm.AspNetCore;
using CometMpm.Emulator;
using Examples.Iris;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

// An Iris classifier trained with ML.NET at start and served by a minimal API; every prediction and every
// late label goes to Comet MPM. Without an API key (CometMpm:ApiKey or COMET_API_KEY) the local MPM emulator
// runs in-process and receives the data, so the example needs no Comet account.
// The content root is the build output, so appsettings.json is found from any working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

MpmEmulator? emulator = null;
if (string.IsNullOrEmpty(builder.Configuration["CometMpm:ApiKey"]) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("COMET_API_KEY")))
{
    emulator = await MpmEmulator.StartAsync();
    builder.Services.AddCometMpm(options =>
    {
        options.ApiKey = "local-emulator";       // the emulator accepts any key
        options.UrlOverride = emulator.BaseUrl;  // the rest (workspace, model, batching) comes from appsettings.json
    });
}
else
{
    builder.Services.AddCometMpm();              // section "CometMpm" and the COMET_* variables
}

builder.Services.AddCometMpmAspNetCore();

// OpenTelemetry, behind a switch (Telemetry:Console=true, or the environment variable Telemetry__Console=true): the
// library's meter and spans, the requests and the HTTP client, printed by the console exporter. See docs/observability.md.
if (builder.Configuration.GetValue<bool>("Telemetry:Console"))
{
    builder.Services.AddOpenTelemetry()
        .WithMetrics(metrics => metrics.AddMeter("CometMpm").AddConsoleExporter())
        .WithTracing(tracing => tracing
            .AddSource("CometMpm")
            .AddAspNetCoreInstrumentation()
            .AddHttpClientInstrumentation()
            .AddConsoleExporter());
}
builder.Services.AddSingleton(_ => IrisModel.Train(IrisModel.DefaultDataPath));

var app = builder.Build();
var model = app.Services.GetRequiredService<IrisModel>(); // train now, not on the first request

// Minimal APIs have no global filters: the group turns [CometMpmPrediction] on for the handlers that carry it.
var api = app.MapGroup("").WithCometMpmAttributes();
api.MapPost("/predict", [CometMpmPrediction] (IrisFeatures flower, IrisModel iris) => iris.Predict(flower));

// POST /predictions/{predictionId}/labels with a JSON object, e.g. {"species":"setosa"}; answers 202.
app.MapCometMpmLabels();

app.MapGet("/", () => new
{
    model = "iris-classifier (ML.NET SDCA maximum entropy)",
    accuracy = Math.Round(model.Accuracy, 4),
    trainingRows = model.TrainingRows,
    testRows = model.TestRows,
    monitoring = emulator is null ? "Comet" : emulator.BaseUrl.ToString(),
});

app.Lifetime.ApplicationStarted.Register(() =>
{
    var url = app.Urls.FirstOrDefault() ?? "http://127.0.0.1:5000";
    Console.WriteLine($$"""

        Iris API listening on {{url}} (model accuracy on held-out rows: {{model.Accuracy:P1}})
          id=$(curl -s -D - -o /dev/null -X POST {{url}}/predict -H 'Content-Type: application/json' -d '{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}' | tr -d '\r' | awk -F': ' 'tolower($1)=="x-prediction-id"{print $2}')
          curl -i -X POST {{url}}/predictions/$id/labels -H 'Content-Type: application/json' -d '{"species":"setosa"}'
          dotnet run --project examples/IrisApi.Traffic -- --url {{url}}
        """);
    Console.WriteLine(emulator is null
        ? "Sending predictions to Comet."
        : $"MPM emulator: {emulator.BaseUrl} (no API key configured: predictions go to the local emulator; open this page to watch them arrive)");
});

await app.RunAsync();
if (emulator is not null)
{
    await emulator.DisposeAsync();
}

/// <summary>The entry point, public so that tests can host the app with WebApplicationFactory.</summary>
public partial class Program;
