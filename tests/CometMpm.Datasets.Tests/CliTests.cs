using CometMpm.Datasets.Tests.Infrastructure;

namespace CometMpm.Datasets.Tests;

/// <summary>Runs the built <c>comet-mpm</c> dll with <c>dotnet</c> as a child process against a local server.</summary>
public sealed class CliTests : IAsyncLifetime
{
    private RecordingServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Ping_ReachableBackend_ExitsZero()
    {
        var run = await CliRunner.RunAsync(Environment(), "ping");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("ok:", run.Stdout, StringComparison.Ordinal);
        var ping = Assert.Single(_server.Requests);
        Assert.Equal("/mpm/isAlive/ping", ping.Path);
        Assert.Equal(TestClient.ApiKey, ping.Headers["Authorization"]);
    }

    [Fact]
    public async Task Upload_TrainingEvents_SendsTheFileAndPrintsServerLines()
    {
        var file = SampleData.WriteTemp(SampleData.Csv);

        var run = await CliRunner.RunAsync(Environment(), "upload", file, "--type", "training-events", "--dataset-name", "train-2024", "--na-values", "?", "--no-progress");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("server: done", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("Uploaded", run.Stdout, StringComparison.Ordinal);
        var upload = Assert.Single(_server.Uploads);
        Assert.Equal("/mpm/v2/dataset/events/csv", upload.Path);
        Assert.Equal(["workspaceName=payments", "modelName=fraud-detector", "modelVersion=2.3.0", "datasetName=train-2024", "NAValues=?"], upload.Fields.Select(f => $"{f.Key}={f.Value}"));
        Assert.Equal(SampleData.Csv, upload.File.Text);
    }

    [Fact]
    public async Task Upload_BadHeader_ExitsTwoWithoutSending()
    {
        var file = SampleData.WriteTemp("id,amount\n1,2\n");

        var run = await CliRunner.RunAsync(Environment(), "upload", file, "--type", "events");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("unknown columns 'id', 'amount'", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(_server.Uploads);
    }

    [Fact]
    public async Task Log_CsvOfPredictions_SendsEachRowAsAnEvent()
    {
        var file = SampleData.WriteTemp(SampleData.Csv);

        var run = await CliRunner.RunAsync(Environment(), "log", file);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("3 predictions queued, 0 invalid line(s) not sent.\n3 delivered.", run.Stdout, StringComparison.Ordinal);
        var events = _server.Events;
        Assert.Equal(3, events.Count);
        Assert.Equal(
            """{"modelName":"fraud-detector","modelVersion":"2.3.0","workspaceName":"payments","predictionId":"someAssetId_926457604","timestamp":1713006600001,"features":{"oneMoreFeature":null,"anotherFeature":"special","someFeature":55.7311021832399},"prediction":{"fingers_count":1,"probability":0.69,"value":"Fish"},"labels":{"fingers_count":6,"animal":"Fish"}}""",
            events[1].GetRawText());
    }

    [Fact]
    public async Task Log_JsonLinesOfLabels_SendsLabelEventsAndReportsBadLines()
    {
        var file = SampleData.WriteTemp(
            """
            {"predictionId":"p1","timestamp":1713006000001,"labels":{"chargeback":true}}
            {"labels":{"chargeback":false}}
            {"predictionId":7,"labels":{"chargeback":false}}
            """,
            "labels.jsonl");

        var run = await CliRunner.RunAsync(Environment(), "log", file, "--labels");

        Assert.Equal(3, run.ExitCode); // some lines invalid, the rest delivered
        Assert.Contains("line 2: predictionId", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("2 labels queued, 1 invalid", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("2 delivered", run.Stdout, StringComparison.Ordinal);
        var batch = Assert.Single(_server.Requests, r => r.Path == "/mpm/v2/labels/batch");
        Assert.Equal(2, batch.Events.Count);
        Assert.Equal("""{"chargeback":true}""", batch.Events[0].GetProperty("labels").GetRawText());
    }

    [Fact]
    public async Task Log_JsonLinesWithABadTimestampAndAMissingId_ReportsTheLine_GeneratesTheId_AndSendsTheRest()
    {
        var file = SampleData.WriteTemp(
            """
            {"predictionId":"ok-1","timestamp":1713006000001,"features":{"a":1}}
            {"predictionId":"bad-ts","timestamp":"yesterday","features":{"a":2}}
            {"features":{"a":3}}
            """,
            "events.jsonl");

        var run = await CliRunner.RunAsync(Environment(), "log", file);

        Assert.Equal(3, run.ExitCode); // one line invalid, not a crash (was: unhandled InvalidOperationException, exit 134)
        Assert.Contains("line 2: timestamp \"yesterday\" is not a whole number of milliseconds", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("2 predictions queued, 1 invalid", run.Stdout, StringComparison.Ordinal);
        var ids = _server.Events.Select(e => e.GetProperty("predictionId").GetString()!).ToList();
        Assert.Equal(2, ids.Count);
        Assert.Contains("ok-1", ids);
        Assert.True(Guid.TryParse(ids.Single(id => id != "ok-1"), out _), $"a generated id is a UUID: {string.Join(", ", ids)}");
    }

    [Fact]
    public async Task Ping_MissingKey_ExitsTwoNamingTheVariable()
    {
        var environment = Environment();
        environment.Remove("COMET_API_KEY");

        var run = await CliRunner.RunAsync(environment, "ping");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("no API key: set COMET_API_KEY or pass --api-key", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task Upload_MissingFile_ExitsTwo()
    {
        var run = await CliRunner.RunAsync(Environment(), "upload", "/nonexistent/data.csv", "--type", "events");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("the file '/nonexistent/data.csv' does not exist", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PingAndUpload_UnreachableServer_ExitOneWithAClearMessage()
    {
        var environment = Environment();
        environment["COMET_URL_OVERRIDE"] = "http://127.0.0.1:1/";
        var file = SampleData.WriteTemp(SampleData.Csv);

        var ping = await CliRunner.RunAsync(environment, "ping", "--retries", "0");
        var upload = await CliRunner.RunAsync(environment, "upload", file, "--type", "events", "--retries", "0");

        Assert.Equal(1, ping.ExitCode);
        Assert.Contains("could not reach http://127.0.0.1:1/mpm/isAlive/ping", ping.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, upload.ExitCode);
        Assert.Contains("Could not upload", upload.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ping_ClosedPortWhileRetrying_SaysConnectionRefused_NotNoAnswer()
    {
        var environment = Environment();
        environment["COMET_URL_OVERRIDE"] = "http://127.0.0.1:1/";

        var ping = await CliRunner.RunAsync(environment, "ping"); // default retries: it is still retrying when the ping timeout ends

        Assert.Equal(1, ping.ExitCode);
        Assert.Contains("ConnectionError", ping.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("no answer within", ping.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownCommand_ExitsTwo_NamingIt_OnStderrOnly()
    {
        var run = await CliRunner.RunAsync(Environment(), "fly");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("'fly'", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
    }

    private Dictionary<string, string?> Environment() => CliRunner.Environment(_server.BaseUrl);
}
