using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace CometMpm.Emulator.Tests;

internal static class TestSupport
{
    public const string ApiKey = "test-key-0123456789abcdef";

    public const string SampleCsv = """
        timestamp,predictionId,feature_oneMoreFeature,feature_anotherFeature,feature_someFeature,prediction_fingers_count,prediction_probability,prediction_value,label_value_fingers_count,label_value_animal
        1713006000001,someAssetId_-1895825684,Dog,special,53.09863247819340,7,0.87,Bird,4,Fish
        1713006600001,someAssetId_926457604,null,special,55.73110218323990,1,0.69,Fish,6,Fish
        1713007200001,someAssetId_2145792990,Rabbit,special,49.40627545548700,4,0.59,Bird,1,Fish

        """;

    public static HttpClient CreateHttp(MpmEmulator emulator, string? key = ApiKey)
    {
        var http = new HttpClient { BaseAddress = emulator.MpmBaseUrl };
        if (key is not null)
        {
            http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", key);
        }

        return http;
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static string Event(string id, string features = """{"age":42}""", string ws = "ws", string model = "model", string version = "1.0",
        long timestamp = 1717243200456, string? extra = null) =>
        $$"""{"modelName":"{{model}}","modelVersion":"{{version}}","workspaceName":"{{ws}}","predictionId":{{id}},"timestamp":{{timestamp}},"features":{{features}}{{(extra is null ? "" : "," + extra)}}}""";

    public static string Label(string id, string labels, string ws = "ws", string model = "model", string version = "1.0") =>
        $$"""{"modelName":"{{model}}","modelVersion":"{{version}}","workspaceName":"{{ws}}","predictionId":{{id}},"timestamp":1717329600000,"labels":{{labels}}}""";

    public static string Batch(params string[] events) => "{\"data\":[" + string.Join(",", events) + "]}";

    public static async Task<(HttpResponseMessage Response, JsonElement Body)> PostAsync(HttpClient http, string path, string json)
    {
        var response = await http.PostAsync(path, Json(json));
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response, body);
    }

    public static MultipartFormDataContent CsvForm(string csv, string model = "model", string? datasetName = null,
        string? naValues = null, string? keepDefault = null)
    {
        var form = new MultipartFormDataContent("b7e1c0d2b7e1c0d2b7e1c0d2b7e1c0d2")
        {
            { new StringContent("ws"), "workspaceName" },
            { new StringContent(model), "modelName" },
            { new StringContent("1.0"), "modelVersion" },
        };
        if (datasetName is not null)
        {
            form.Add(new StringContent(datasetName), "datasetName");
        }

        if (naValues is not null)
        {
            form.Add(new StringContent(naValues), "NAValues");
        }

        if (keepDefault is not null)
        {
            form.Add(new StringContent(keepDefault), "keepDefaultNAValues");
        }

        var file = new StringContent(csv);
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(file, "file", "./data/sample.csv");
        return form;
    }

    /// <summary>The comet-mpm-emulator tool's entry assembly, built beside this test project (the project references it for the build order only).</summary>
    public static string ToolDll()
    {
        // tests/CometMpm.Emulator.Tests/bin/<Configuration>/net10.0 -> src/CometMpm.Emulator.Tool/bin/<Configuration>/net10.0
        var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testDir.Name;
        var configuration = testDir.Parent!.Name;
        var repo = testDir;
        while (repo is not null && !File.Exists(Path.Combine(repo.FullName, "CometMpm.AspNetCore.sln")))
        {
            repo = repo.Parent;
        }

        var dll = Path.Combine(repo!.FullName, "src", "CometMpm.Emulator.Tool", "bin", configuration, framework, "CometMpm.Emulator.Tool.dll");
        Assert.True(File.Exists(dll), $"build the emulator tool first: {dll} is missing");
        return dll;
    }

    public static string TempDbPath() => Path.Combine(Path.GetTempPath(), "mpm-emulator-tests", Guid.NewGuid().ToString("N") + ".db");

    public static void DeleteDb(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            if (File.Exists(file))
            {
                File.Delete(file);
            }
        }
    }
}
