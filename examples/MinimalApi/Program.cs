using CometMpm;
using CometMpm.Emulator;

// A minimal API scoring credit applications, monitored with Comet MPM.
// Without an API key (CometMpm:ApiKey or COMET_API_KEY) it starts the local MPM emulator in-process
// and sends there, so it runs on a fresh machine with no Comet account.
var builder = WebApplication.CreateBuilder(args);

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

var app = builder.Build();

app.MapPost("/predict", (CreditApplication input, ICometMpm mpm) =>
{
    var score = CreditModel.Score(input);
    var decision = score >= 0.5 ? "approve" : "decline";
    var predictionId = Guid.CreateVersion7().ToString();
    mpm.LogEvent(
        predictionId,
        inputFeatures: new Dictionary<string, object?>
        {
            ["income"] = input.Income,
            ["debt"] = input.Debt,
            ["age"] = input.Age,
            ["employment"] = input.Employment,
        },
        outputFeatures: new Dictionary<string, object?> { ["value"] = decision, ["probability"] = score });
    return Results.Ok(new { predictionId, decision, probability = score });
});

app.MapPost("/predictions/{predictionId}/labels", (string predictionId, Dictionary<string, object?> labels, ICometMpm mpm) =>
{
    var result = mpm.LogLabel(predictionId, labels);
    return result.IsAccepted ? Results.Accepted() : Results.BadRequest(new { error = result.Message });
});

app.Lifetime.ApplicationStarted.Register(() =>
{
    var url = app.Urls.FirstOrDefault() ?? "http://127.0.0.1:5002";
    Console.WriteLine($$"""

        Credit-risk API on {{url}}
          curl -X POST {{url}}/predict -H 'Content-Type: application/json' -d '{"income":52000,"debt":9000,"age":41,"employment":"salaried"}'
          curl -X POST {{url}}/predictions/<predictionId>/labels -H 'Content-Type: application/json' -d '{"defaulted":false}'
        {{(emulator is null ? "Sending to Comet." : $"No API key configured: sending to the local MPM emulator. Watch the data arrive at {emulator.BaseUrl}")}}
        """);
});

await app.RunAsync();
if (emulator is not null)
{
    await emulator.DisposeAsync();
}

internal sealed record CreditApplication(double Income, double Debt, int Age, string Employment);

/// <summary>A small logistic model standing in for a trained one.</summary>
internal static class CreditModel
{
    public static double Score(CreditApplication a)
    {
        var ratio = a.Income <= 0 ? 1 : a.Debt / a.Income;
        var z = 2.0 - (6.0 * ratio) + (0.02 * (a.Age - 40)) + (a.Employment == "salaried" ? 0.5 : 0);
        return Math.Round(1 / (1 + Math.Exp(-z)), 4);
    }
}
