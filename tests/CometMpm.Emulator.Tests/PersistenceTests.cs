using System.Net;
using static CometMpm.Emulator.Tests.TestSupport;

namespace CometMpm.Emulator.Tests;

public sealed class PersistenceTests
{
    [Fact]
    public async Task Db_Restart_KeepsData()
    {
        var path = TempDbPath();
        try
        {
            await using (var first = await MpmEmulator.StartAsync(new MpmEmulatorOptions { Db = path }))
            {
                using var http = CreateHttp(first);
                var (response, _) = await PostAsync(http, "v2/events/batch", Batch(Event("\"kept\"", """{"big":9007199254740993}""")));
                await PostAsync(http, "v2/labels/batch", Batch(Label("\"kept\"", """{"y":true}"""), Label("\"pending\"", """{"y":false}""")));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            await using var second = await MpmEmulator.StartAsync(new MpmEmulatorOptions { Db = path });
            var stored = Assert.Single((await second.Client.GetEventsAsync()).Events);
            Assert.Equal("kept", stored.PredictionId.GetString());
            Assert.Equal("9007199254740993", stored.Features!["big"].GetRawText());
            Assert.True(stored.Labels!["y"].GetBoolean());
            var model = Assert.Single(await second.Client.GetModelsAsync());
            Assert.Equal((1L, 2L), (model.Predictions, model.Labels));
        }
        finally
        {
            DeleteDb(path);
        }
    }

    [Fact]
    public async Task Build_DbAndBasePathSwitches_BindOptions()
    {
        var path = TempDbPath();
        try
        {
            await using var app = EmulatorApp.Build(["--urls", "http://127.0.0.1:0", "--db", path, "--base-path", "/custom/mpm/"], quiet: true);
            var options = app.Services.GetService(typeof(MpmEmulatorOptions)) as MpmEmulatorOptions;

            Assert.NotNull(options);
            Assert.Equal(path, options.Db);
            Assert.Equal("/custom/mpm/", options.NormalizedBasePath);
            Assert.True(File.Exists(path));
        }
        finally
        {
            DeleteDb(path);
        }
    }
}
