using CometMpm.Datasets.Tests.Infrastructure;
using CometMpm.Emulator;

namespace CometMpm.Datasets.Tests;

/// <summary>
/// The CLI as a child process against the real emulator: what it says and its exit code match what the emulator stored.
/// Exit codes: 0 all delivered or stored, 1 backend failure or not delivered, 2 usage, 3 some lines or rows invalid.
/// </summary>
public sealed class CliEmulatorTests : IAsyncLifetime
{
    private const string UnclosedQuote = "line 3: a quoted field opened in this record is not closed before the end of the file";

    private const string CsvWithUnclosedQuote =
        "timestamp,predictionId,feature_a,prediction_value\n"
        + "1713006000001,q-1,1,yes\n"
        + "1713006000002,q-2,\"unclosed,no\n"
        + "1713006000003,q-3,3,yes\n";

    private MpmEmulator _emulator = null!;

    public async Task InitializeAsync() => _emulator = await MpmEmulator.StartAsync();

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    [Fact]
    public async Task Log_JsonLinesWithOneBadLine_ReportsItsLine_DeliversTheRest_ExitsThree()
    {
        var file = SampleData.WriteTemp(
            """
            {"predictionId":"j-1","features":{"a":1}}
            {"predictionId":"j-2","features":{"a":2}}
            {"predictionId":"j-3","features":
            {"predictionId":"j-4","features":{"a":4}}
            """,
            "events.jsonl");

        var run = await CliRunner.RunAsync(Environment(), "log", file);

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("line 3: ", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("3 predictions queued", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("3 delivered", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(["j-1", "j-2", "j-4"], await StoredIds());
    }

    [Fact]
    public async Task Log_CsvRowWithoutPredictionId_IsDeliveredWithAGeneratedId()
    {
        var file = SampleData.WriteTemp("timestamp,predictionId,feature_a,prediction_value\n1713006000001,c-1,1,yes\n1713006000002,,2,no\n");

        var run = await CliRunner.RunAsync(Environment(), "log", file);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("2 predictions queued", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("2 delivered", run.Stdout, StringComparison.Ordinal);
        var ids = await StoredIds();
        Assert.Equal(2, ids.Count);
        Assert.Equal("c-1", ids[0]);
        Assert.True(Guid.TryParse(ids[1], out _), $"a generated id is a UUID: {ids[1]}");
    }

    [Fact]
    public async Task Upload_EveryRowRejectedByTheServer_DoesNotExitZero()
    {
        var file = SampleData.WriteTemp("timestamp,predictionId,feature_a\nnot-a-time,u-1,1\nyesterday,u-2,2\n");

        var run = await CliRunner.RunAsync(Environment(), "upload", file, "--type", "events", "--no-progress");

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("0 stored", run.Stdout + run.Stderr, StringComparison.Ordinal);
        Assert.Contains("2 invalid", run.Stdout + run.Stderr, StringComparison.Ordinal);
        Assert.Empty(await StoredIds());
    }

    [Fact]
    public async Task UnclosedQuote_TheCliAndTheEmulatorsUploadReportTheSameLine()
    {
        var file = SampleData.WriteTemp(CsvWithUnclosedQuote);

        var log = await CliRunner.RunAsync(Environment(), "log", file);

        Assert.Equal(3, log.ExitCode);
        Assert.Contains(UnclosedQuote, log.Stderr, StringComparison.Ordinal);
        Assert.Equal(["q-1"], await StoredIds());

        var upload = await CliRunner.RunAsync(Environment("upload-model"), "upload", file, "--type", "events", "--no-progress");

        Assert.Equal(3, upload.ExitCode);
        Assert.Contains("server: error: " + UnclosedQuote, upload.Stdout, StringComparison.Ordinal);
        Assert.Equal(["q-1"], await StoredIds("upload-model"));
    }

    private async Task<List<string>> StoredIds(string model = "cli-model") =>
        [.. (await _emulator.Client.GetEventsAsync("cli", model, "1")).Events.Select(e => e.PredictionId.GetString()!)];

    private Dictionary<string, string?> Environment(string model = "cli-model") => CliRunner.Environment(_emulator.BaseUrl, workspace: "cli", model: model, version: "1");
}
