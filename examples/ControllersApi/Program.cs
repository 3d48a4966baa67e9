using CometMpm.Emulator;
using Examples.Iris;

// The Iris classifier of examples/IrisApi, served by an MVC controller. [CometMpmPrediction] on the action captures
// each prediction; labels arrive at POST /predictions/{predictionId}/labels. Without an API key
// (CometMpm:ApiKey or COMET_API_KEY) the local MPM emulator runs in-process and receives the data.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

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

builder.Services.AddCometMpmAspNetCore();
builder.Services.AddControllers();
builder.Services.AddSingleton(_ => IrisModel.Train(IrisModel.DefaultDataPath));

var app = builder.Build();
var model = app.Services.GetRequiredService<IrisModel>(); // train at start, not on the first request

app.MapControllers();
app.MapCometMpmLabels(); // POST /predictions/{predictionId}/labels, body {"species":"setosa"}

app.Lifetime.ApplicationStarted.Register(() =>
{
    var url = app.Urls.FirstOrDefault() ?? "http://127.0.0.1:5000";
    Console.WriteLine($$"""

        Iris controller API listening on {{url}} (model accuracy on held-out rows: {{model.Accuracy:P1}})
          id=$(curl -s -D - -o /dev/null -X POST {{url}}/iris/predict -H 'Content-Type: application/json' -d '{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}' | tr -d '\r' | awk -F': ' 'tolower($1)=="x-prediction-id"{print $2}')
          curl -i -X POST {{url}}/predictions/$id/labels -H 'Content-Type: application/json' -d '{"species":"setosa"}'
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
