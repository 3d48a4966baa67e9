using System.Globalization;
using System.Text.Json;
using CometMpm.Emulator.Diagnostics;
using CometMpm.Emulator.Faults;
using CometMpm.Emulator.Persistence;
using CometMpm.Emulator.Serialization;

namespace CometMpm.Emulator.Inspection;

/// <summary>The inspection, fault and page endpoints under <c>/api/emulator</c> and <c>/</c>.</summary>
internal sealed class InspectionApi(EmulatorStore store, RequestLog requests, FaultInjector faults, MpmEmulatorOptions options)
{
    private const int MaxEventsPage = 10_000;
    private const int StatsSample = 5_000;

    public void Map(WebApplication app)
    {
        var api = app.MapGroup("/api/emulator");
        api.MapGet("/models", GetModelsAsync);
        api.MapGet("/events", GetEventsAsync);
        api.MapGet("/requests", GetRequestsAsync);
        api.MapGet("/stats", GetStatsAsync);
        api.MapDelete("/data", ClearAsync);
        api.MapGet("/faults", (HttpContext context) => WriteJsonAsync(context, faults.State, EmulatorJsonContext.Default.EmulatorFaultState));
        api.MapPost("/faults", SetFaultsAsync);
        api.MapDelete("/faults", (HttpContext context) =>
        {
            faults.Clear();
            return WriteJsonAsync(context, faults.State, EmulatorJsonContext.Default.EmulatorFaultState);
        });
        app.MapGet("/", PageAsync);
    }

    private static Task WriteJsonAsync<T>(HttpContext context, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        context.Response.WriteAsJsonAsync(value, typeInfo, cancellationToken: context.RequestAborted);

    private async Task GetModelsAsync(HttpContext context)
    {
        var models = await store.GetModelsAsync(context.RequestAborted).ConfigureAwait(false);
        await WriteJsonAsync(context, models, EmulatorJsonContext.Default.IReadOnlyListEmulatorModelSummary).ConfigureAwait(false);
    }

    private async Task GetEventsAsync(HttpContext context)
    {
        var query = context.Request.Query;
        var limit = EmulatorApp.QueryInt(context, "limit", 100, MaxEventsPage);
        long.TryParse(query["after"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var after);
        var rows = await store.GetPredictionsAsync(
            NullIfEmpty(query["workspace"]), NullIfEmpty(query["model"]), NullIfEmpty(query["version"]),
            limit + 1, after, newestFirst: false, context.RequestAborted).ConfigureAwait(false);
        var hasMore = rows.Count > limit;
        var events = rows.Take(limit).Select(ToEvent).ToList();
        var next = events.Count > 0 ? events[^1].Sequence : after;
        await WriteJsonAsync(context, new EmulatorEventsPage(events, next, hasMore), EmulatorJsonContext.Default.EmulatorEventsPage).ConfigureAwait(false);
    }

    private Task GetRequestsAsync(HttpContext context)
    {
        var limit = EmulatorApp.QueryInt(context, "limit", 100, 100_000);
        return WriteJsonAsync(context, requests.Last(limit), EmulatorJsonContext.Default.IReadOnlyListEmulatorRequestRecord);
    }

    private async Task GetStatsAsync(HttpContext context)
    {
        var stats = await ComputeStatsAsync(context.Request.Query["workspace"], context.Request.Query["model"], context.Request.Query["version"], context.RequestAborted)
            .ConfigureAwait(false);
        if (stats is null)
        {
            context.Response.StatusCode = 404;
            await context.Response.WriteAsJsonAsync(new ApiResponse(404, "no such model; GET /api/emulator/models lists them"),
                EmulatorJsonContext.Default.ApiResponse, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            return;
        }

        await WriteJsonAsync(context, stats, EmulatorJsonContext.Default.ModelStats).ConfigureAwait(false);
    }

    private async Task ClearAsync(HttpContext context)
    {
        await store.ClearAsync(context.RequestAborted).ConfigureAwait(false);
        requests.Clear();
        context.Response.StatusCode = 204;
    }

    private async Task SetFaultsAsync(HttpContext context)
    {
        EmulatorFaultPlan? plan;
        try
        {
            plan = await context.Request.ReadFromJsonAsync(EmulatorJsonContext.Default.EmulatorFaultPlan, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            context.Response.StatusCode = 400;
            await WriteJsonAsync(context, new ApiResponse(400, "malformed fault plan: " + ex.Message), EmulatorJsonContext.Default.ApiResponse).ConfigureAwait(false);
            return;
        }

        var problem = plan is null ? "the fault plan must be a JSON object" : FaultInjector.Check(plan);
        if (problem is not null)
        {
            context.Response.StatusCode = 400;
            await WriteJsonAsync(context, new ApiResponse(400, problem), EmulatorJsonContext.Default.ApiResponse).ConfigureAwait(false);
            return;
        }

        faults.Set(plan!);
        await WriteJsonAsync(context, faults.State, EmulatorJsonContext.Default.EmulatorFaultState).ConfigureAwait(false);
    }

    private async Task PageAsync(HttpContext context)
    {
        var models = await store.GetModelsAsync(context.RequestAborted).ConfigureAwait(false);
        var query = context.Request.Query;
        var selected = models.FirstOrDefault(m => m.Workspace == query["workspace"] && m.Model == query["model"] && m.Version == query["version"])
            ?? models.FirstOrDefault(m => m.Predictions > 0)
            ?? models.FirstOrDefault();
        ModelStats? stats = null;
        IReadOnlyList<StoredRow> latest = [];
        if (selected is not null)
        {
            stats = await ComputeStatsAsync(selected.Workspace, selected.Model, selected.Version, context.RequestAborted).ConfigureAwait(false);
            latest = await store.GetPredictionsAsync(selected.Workspace, selected.Model, selected.Version, 20, 0, newestFirst: true, context.RequestAborted)
                .ConfigureAwait(false);
        }

        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.WriteAsync(PageRenderer.Render(options, models, selected, stats, latest), context.RequestAborted).ConfigureAwait(false);
    }

    private async Task<ModelStats?> ComputeStatsAsync(string? workspace, string? model, string? version, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(workspace) || string.IsNullOrEmpty(model) || string.IsNullOrEmpty(version))
        {
            return null;
        }

        var rows = await store.GetPredictionsAsync(workspace, model, version, StatsSample, 0, newestFirst: true, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : StatsCalculator.Compute(workspace, model, version, rows);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static EmulatorStoredEvent ToEvent(StoredRow row) => new(
        row.Sequence,
        row.Workspace,
        row.Model,
        row.Version,
        row.PredictionIdIsNumber
            ? EmulatorApp.ToElement(row.PredictionId)
            : JsonSerializer.SerializeToElement(row.PredictionId, EmulatorJsonContext.Default.String),
        row.Timestamp,
        ToDictionary(row.Features),
        ToDictionary(row.Prediction),
        ToDictionary(row.Labels));

    private static Dictionary<string, JsonElement>? ToDictionary(string? json) =>
        json is null ? null : JsonSerializer.Deserialize(json, EmulatorJsonContext.Default.DictionaryStringJsonElement);
}
