using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CometMpm.Emulator.Datasets;
using CometMpm.Emulator.Diagnostics;
using CometMpm.Emulator.Faults;
using CometMpm.Emulator.Ingestion;
using CometMpm.Emulator.Inspection;
using CometMpm.Emulator.Persistence;
using CometMpm.Emulator.Serialization;
using Microsoft.AspNetCore.Hosting.Server;

namespace CometMpm.Emulator;

/// <summary>Builds the emulator's web application: used by the executable and by <see cref="MpmEmulator"/>.</summary>
internal static class EmulatorApp
{
    private const string FaultItem = "CometMpm.Emulator.Fault";
    private const string DroppedItem = "CometMpm.Emulator.Dropped";

    /// <summary>Builds the app from command-line arguments and, when given, explicit options (which then win over configuration).</summary>
    public static WebApplication Build(string[] args, MpmEmulatorOptions? options = null, bool quiet = false)
    {
        var inProcess = options is not null;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            // In-process, the builder reads the host's environment before its sources can be cleared (below): the
            // environment name, content root and hosting startups are pinned here so the host's variables
            // (ASPNETCORE_ENVIRONMENT, ASPNETCORE_CONTENTROOT, ASPNETCORE_HOSTINGSTARTUPASSEMBLIES) do not reach it.
            Args = inProcess ? [.. args, "--preventHostingStartup", "true"] : args,
            ApplicationName = typeof(EmulatorApp).Assembly.GetName().Name,
            EnvironmentName = inProcess ? Environments.Production : null,
            ContentRootPath = inProcess ? AppContext.BaseDirectory : null,
        });
        if (inProcess)
        {
            // Started in-process (a test of the user's): only its own options count, never the host's configuration, its
            // environment variables (Kestrel__Endpoints__…, ASPNETCORE_URLS, Logging__…) or its appsettings.json.
            builder.Configuration.Sources.Clear();
        }

        builder.Configuration.AddCommandLine(args, new Dictionary<string, string>
        {
            ["--db"] = $"{MpmEmulatorOptions.SectionName}:Db",
            ["--base-path"] = $"{MpmEmulatorOptions.SectionName}:BasePath",
        });
        if (options is null)
        {
            options = new MpmEmulatorOptions();
            builder.Configuration.GetSection(MpmEmulatorOptions.SectionName).Bind(options);
        }

        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (quiet)
        {
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        }

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ => new EmulatorStore(options.Db));
        services.AddSingleton(_ => new RequestLog(options.RequestLogCapacity));
        services.AddSingleton<FaultInjector>();
        services.AddSingleton<BatchHandler>();
        services.AddSingleton<CsvUploadHandler>();
        services.AddSingleton<InspectionApi>();

        var app = builder.Build();
        _ = app.Services.GetRequiredService<EmulatorStore>(); // open (and create) the database at start, not on the first request
        app.UseRouting();
        app.Use(LogRequestsAsync);
        app.Use(ApplyFaultsAndAuthAsync);
        MapIngestion(app, options.NormalizedBasePath);
        app.Services.GetRequiredService<InspectionApi>().Map(app);
        return app;
    }

    /// <summary>The addresses Kestrel listens on (after start).</summary>
    public static IEnumerable<string> Addresses(WebApplication app) =>
        MpmEmulator.ServerAddresses(app.Services.GetRequiredService<IServer>());

    private static void MapIngestion(WebApplication app, string basePath)
    {
        var batches = app.Services.GetRequiredService<BatchHandler>();
        var csv = app.Services.GetRequiredService<CsvUploadHandler>();
        app.MapGet(basePath + "isAlive/ping", (HttpContext context) =>
            BatchHandler.WriteAsync(context, 200, new ApiResponse(200))).WithMetadata(IngestionEndpoint.Instance);
        app.MapPost(basePath + "v2/events/batch", (HttpContext context) => batches.HandleAsync(context, labelEvents: false))
            .WithMetadata(IngestionEndpoint.Instance);
        app.MapPost(basePath + "v2/labels/batch", (HttpContext context) => batches.HandleAsync(context, labelEvents: true))
            .WithMetadata(IngestionEndpoint.Instance);
        app.MapPost(basePath + "v2/data/events/csv", (HttpContext context) => csv.HandleAsync(context, CsvDatasetType.Events))
            .WithMetadata(IngestionEndpoint.Instance);
        app.MapPost(basePath + "v2/data/labels/csv", (HttpContext context) => csv.HandleAsync(context, CsvDatasetType.LateLabels))
            .WithMetadata(IngestionEndpoint.Instance);
        app.MapPost(basePath + "v2/dataset/events/csv", (HttpContext context) => csv.HandleAsync(context, CsvDatasetType.TrainingEvents))
            .WithMetadata(IngestionEndpoint.Instance);
    }

    /// <summary>Records ingestion requests (and requests that matched no endpoint) in the request log.</summary>
    private static async Task LogRequestsAsync(HttpContext context, RequestDelegate next)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is not null && endpoint.Metadata.GetMetadata<IngestionEndpoint>() is null)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var services = context.RequestServices;
        var arrived = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var started = Stopwatch.GetTimestamp();
        var body = new CountingStream(context.Request.Body);
        context.Request.Body = body;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, values) in context.Request.Headers)
            {
                var value = values.ToString();
                headers[name] = name.Equals("Authorization", StringComparison.OrdinalIgnoreCase)
                    || name.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase)
                    || name.Equals("Cookie", StringComparison.OrdinalIgnoreCase)
                        ? RequestLog.Mask(value)
                        : value;
            }

            var dropped = context.Items.ContainsKey(DroppedItem);
            services.GetRequiredService<RequestLog>().Add(new EmulatorRequestRecord(
                arrived,
                context.Request.Method,
                context.Request.Path + context.Request.QueryString,
                dropped ? 0 : context.Response.StatusCode,
                headers,
                body.BytesRead,
                Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 2),
                context.Items.TryGetValue(FaultItem, out var fault) ? fault as string : null));
        }
    }

    /// <summary>Applies the fault plan, then the Authorization check, on the ingestion endpoints only.</summary>
    private static async Task ApplyFaultsAndAuthAsync(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<IngestionEndpoint>() is null)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var services = context.RequestServices;
        var decision = services.GetRequiredService<FaultInjector>().Next();
        if (decision.Description is not null)
        {
            context.Items[FaultItem] = decision.Description;
        }

        if (decision.LatencyMs > 0)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(decision.LatencyMs), services.GetRequiredService<TimeProvider>(), context.RequestAborted)
                    .ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        if (decision.Drop)
        {
            context.Items[DroppedItem] = true;
            context.Abort();
            return;
        }

        if (decision.Status is int status)
        {
            if (decision.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = decision.RetryAfter;
            }

            await BatchHandler.WriteAsync(context, status, new ApiResponse(status, "injected fault: " + decision.Description)).ConfigureAwait(false);
            return;
        }

        var key = context.Request.Headers.Authorization.ToString();
        if (string.IsNullOrWhiteSpace(key) && context.Request.Path.Value!.EndsWith("/isAlive/ping", StringComparison.OrdinalIgnoreCase))
        {
            // The health check answers without a key, so readiness probes (curl) work; a key that is sent is still checked.
            await next(context).ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrWhiteSpace(key))
        {
            await BatchHandler.WriteAsync(context, 401, new ApiResponse(401,
                "missing Authorization header: send the API key as the raw header value (no 'Bearer' prefix)")).ConfigureAwait(false);
            return;
        }

        var accepted = services.GetRequiredService<MpmEmulatorOptions>().ApiKeys;
        if (accepted.Count > 0 && !accepted.Contains(key))
        {
            var hint = key.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? " (the key is sent raw, without a 'Bearer' prefix)" : string.Empty;
            await BatchHandler.WriteAsync(context, 401, new ApiResponse(401, "invalid API key" + hint)).ConfigureAwait(false);
            return;
        }

        await next(context).ConfigureAwait(false);
    }

    /// <summary>Marks the endpoints of the ingestion protocol (faults, auth and the request log apply to them).</summary>
    internal sealed class IngestionEndpoint
    {
        public static readonly IngestionEndpoint Instance = new();
    }

    internal static int QueryInt(HttpContext context, string name, int fallback, int max) =>
        int.TryParse(context.Request.Query[name], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? Math.Clamp(value, 0, max)
            : fallback;

    internal static JsonElement ToElement(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
