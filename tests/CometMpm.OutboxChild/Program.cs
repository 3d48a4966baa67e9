using CometMpm;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// Usage: CometMpm.OutboxChild <server-url> <outbox-dir> <events-per-second>
// Logs events c-0, c-1, ... at the given rate and prints "logged N T" after each 100 (T: Unix time in ms when the
// N-th event was accepted), until killed.
var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders();
builder.Services.AddCometMpm(options =>
{
    options.ApiKey = "crash-test-key";
    options.WorkspaceName = "crash";
    options.ModelName = "crash-model";
    options.ModelVersion = "1";
    options.UrlOverride = new Uri(args[0]);
    options.Outbox.Directory = args[1];
    options.Outbox.SpillInterval = TimeSpan.FromMilliseconds(200);
    options.MaxBatchSize = 200;
    options.MaxBatchTime = TimeSpan.FromMilliseconds(500);
    options.MaxRetryAttempts = 1;
    options.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
    options.CircuitBreakerFailureThreshold = 1;
    options.CircuitBreakDuration = TimeSpan.FromMinutes(10);
});
using var host = builder.Build();
await host.StartAsync();
var mpm = host.Services.GetRequiredService<ICometMpm>();
var perSecond = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var delay = TimeSpan.FromSeconds(100.0 / perSecond);
for (var i = 0; ; i++)
{
    mpm.LogEvent($"c-{i}", new Dictionary<string, object?> { ["i"] = i, ["group"] = i % 7 });
    if ((i + 1) % 100 == 0)
    {
        Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"logged {i + 1} {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}"));
        await Task.Delay(delay);
    }
}
