using System.Text;
using CometMpm.Datasets.Tests.Infrastructure;

namespace CometMpm.Datasets.Tests;

public sealed class UploadTests : IAsyncLifetime
{
    private RecordingServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<DatasetType, string, string?, string?, bool?, string[]> Kinds => new()
    {
        { DatasetType.Events, "/mpm/v2/data/events/csv", null, null, null, ["workspaceName=payments", "modelName=fraud-detector", "modelVersion=2.3.0"] },
        { DatasetType.Events, "/mpm/v2/data/events/csv", null, "missing,-", false, ["workspaceName=payments", "modelName=fraud-detector", "modelVersion=2.3.0", "NAValues=missing,-", "keepDefaultNAValues=False"] },
        { DatasetType.Events, "/mpm/v2/data/events/csv", "backfill", null, true, ["workspaceName=payments", "modelName=backfill", "modelVersion=2.3.0", "keepDefaultNAValues=True"] },
        { DatasetType.LateLabels, "/mpm/v2/data/labels/csv", null, null, null, ["workspaceName=payments", "modelName=fraud-detector", "modelVersion=2.3.0"] },
        { DatasetType.LateLabels, "/mpm/v2/data/labels/csv", null, "?", null, ["workspaceName=payments", "modelName=fraud-detector", "modelVersion=2.3.0", "NAValues=?"] },
        { DatasetType.TrainingEvents, "/mpm/v2/dataset/events/csv", "training-2024", null, null, ["workspaceName=payments", "modelName=fraud-detector", "modelVersion=2.3.0", "datasetName=training-2024"] },
        { DatasetType.TrainingEvents, "/mpm/v2/dataset/events/csv", "training-2024", "none", false, ["workspaceName=payments", "modelName=fraud-detector", "modelVersion=2.3.0", "datasetName=training-2024", "NAValues=none", "keepDefaultNAValues=False"] },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task UploadDatasetCsvAsync_EachDatasetType_SendsTheMultipartOfTheProtocol(DatasetType type, string path, string? name, string? na, bool? keepDefault, string[] fields)
    {
        var content = type == DatasetType.LateLabels ? SampleData.LabelsCsv : SampleData.Csv;
        var file = SampleData.WriteTemp(content);
        await using var client = TestClient.Create(_server.BaseUrl);
        var lines = new List<string>();

        var result = await client.Mpm.UploadDatasetCsvAsync(file, type, name, na, keepDefault, new SyncProgress(lines.Add));

        var upload = Assert.Single(_server.Uploads);
        Assert.Equal("POST", upload.Method);
        Assert.Equal(path, upload.Path);
        Assert.Equal(TestClient.ApiKey, upload.Headers["Authorization"]);
        Assert.Equal(fields, upload.Fields.Select(f => $"{f.Key}={f.Value}"));
        Assert.Equal("file", upload.Parts[^1].Name);
        Assert.Equal(Path.GetFileName(file), upload.File.FileName); // the name only: the local path says too much about the machine
        Assert.Equal("text/csv", upload.File.ContentType);
        Assert.Equal(content, upload.File.Text);
        Assert.True(upload.Headers.ContainsKey("Content-Length"));
        Assert.True(result.Uploaded);
        Assert.Equal(1, result.Requests);
        Assert.Equal(Encoding.UTF8.GetByteCount(content), result.BytesSent);
        Assert.Equal([$"received {content.Length} bytes", "done"], lines);
        Assert.Equal(lines, result.ServerMessages);
        Assert.Contains(client.Logs.GetSnapshot(), l => l.Message.Contains("CSV upload: done", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UploadDatasetCsvAsync_TrainingEventsWithoutName_ThrowsArgumentExceptionAndSendsNothing()
    {
        var file = SampleData.WriteTemp(SampleData.Csv);
        await using var client = TestClient.Create(_server.BaseUrl);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => client.Mpm.UploadDatasetCsvAsync(file, DatasetType.TrainingEvents));

        Assert.Equal("datasetName", ex.ParamName);
        Assert.Empty(_server.Uploads);
    }

    [Theory]
    [InlineData("timestamp,predictionId,feature_a,Amount,colour\n1,a,2,3,4\n", "unknown columns 'Amount', 'colour'")]
    [InlineData("timestamp,predictionId,prediction_value\n1,a,2\n", "at least one 'feature_<name>' column")]
    [InlineData("predictionId,feature_a,feature_a\n1,2,3\n", "'feature_a' appears more than once")]
    [InlineData("feature_\n1\n", "unknown column 'feature_'")]
    [InlineData("", "is empty")]
    [InlineData("\n1,2\n", "first line")]
    public async Task UploadDatasetCsvAsync_BadHeader_FailsBeforeAnyByteIsSent(string content, string expected)
    {
        var file = SampleData.WriteTemp(content);
        await using var client = TestClient.Create(_server.BaseUrl);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => client.Mpm.UploadDatasetCsvAsync(file, DatasetType.Events));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Empty(_server.Uploads);
    }

    [Fact]
    public async Task UploadDatasetCsvAsync_LateLabelsWithoutPredictionId_FailsBeforeSending()
    {
        var file = SampleData.WriteTemp("timestamp,label_value_animal\n1,Fish\n");
        await using var client = TestClient.Create(_server.BaseUrl);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => client.Mpm.UploadDatasetCsvAsync(file, DatasetType.LateLabels));

        Assert.Contains("'predictionId' column is required", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_server.Uploads);
    }

    [Fact]
    public async Task UploadDatasetCsvAsync_MissingFile_ThrowsFileNotFound()
    {
        await using var client = TestClient.Create(_server.BaseUrl);

        await Assert.ThrowsAsync<FileNotFoundException>(() => client.Mpm.UploadDatasetCsvAsync("/nonexistent/data.csv", DatasetType.Events));
        Assert.Empty(_server.Uploads);
    }

    [Fact]
    public async Task UploadDatasetCsvAsync_FileAboveChunkSize_ArrivesCompleteAndInOrderWithTheHeaderOnEachChunk()
    {
        // ~3.4 MiB of rows with 1 MiB chunks; some rows carry a quoted field with a line break that must not be cut.
        var header = "predictionId,feature_text,feature_n\r\n";
        var builder = new StringBuilder(header);
        var row = 0;
        while (builder.Length < 3_500_000)
        {
            builder.Append(row % 97 == 0 ? $"id-{row},\"two\nlines, \"\"quoted\"\"\",{row}\r\n" : $"id-{row},plain text {row},{row}\r\n");
            row++;
        }

        var content = builder.ToString();
        var file = SampleData.WriteTemp(content, "big.csv");
        await using var client = TestClient.Create(_server.BaseUrl, o => o.CsvChunkSizeMb = 1);

        var result = await client.Mpm.UploadDatasetCsvAsync(file, DatasetType.Events);

        var uploads = _server.Uploads;
        Assert.Equal(4, uploads.Count);
        Assert.Equal(4, result.Requests);
        var rebuilt = new StringBuilder();
        foreach (var upload in uploads)
        {
            var text = upload.File.Text;
            Assert.StartsWith(header, text, StringComparison.Ordinal);
            Assert.EndsWith("\r\n", text, StringComparison.Ordinal);
            Assert.Equal(0, text.Count(c => c == '"') % 2);
            Assert.InRange(text.Length, 1, (1024 * 1024) + header.Length + 200);
            rebuilt.Append(rebuilt.Length == 0 ? text : text[header.Length..]);
        }

        Assert.Equal(content, rebuilt.ToString());
        Assert.Equal(content.Length + (3 * header.Length), result.BytesSent);
    }

    [Fact]
    public async Task UploadDatasetCsvAsync_ServerRefuses_ThrowsBackendExceptionWithStatusAndMessage()
    {
        var file = SampleData.WriteTemp(SampleData.Csv);
        _server.Enqueue(new ScriptedAnswer(400, "{\"code\":400,\"msg\":\"workspace payments does not exist\"}"));
        await using var client = TestClient.Create(_server.BaseUrl);

        var ex = await Assert.ThrowsAsync<CometMpmBackendException>(() => client.Mpm.UploadDatasetCsvAsync(file, DatasetType.Events));

        Assert.Equal(400, ex.StatusCode);
        Assert.Contains("workspace payments does not exist", ex.Message, StringComparison.Ordinal);
        Assert.Single(_server.Uploads);
    }

    [Fact]
    public async Task UploadDatasetCsvAsync_TransientFailure_IsRetriedWithTheWholeFile()
    {
        var file = SampleData.WriteTemp(SampleData.Csv);
        _server.Enqueue(new ScriptedAnswer(503, "busy"));
        await using var client = TestClient.Create(_server.BaseUrl);

        var result = await client.Mpm.UploadDatasetCsvAsync(file, DatasetType.Events);

        Assert.Equal(2, _server.Uploads.Count);
        Assert.All(_server.Uploads, u => Assert.Equal(SampleData.Csv, u.File.Text));
        Assert.Equal(SampleData.Csv.Length, result.BytesSent);
    }

    [Fact]
    public async Task UploadDatasetCsvAsync_UnreachableServer_ThrowsBackendNotAvailable()
    {
        var file = SampleData.WriteTemp(SampleData.Csv);
        await using var client = TestClient.Create(new Uri("http://127.0.0.1:1/"), o => o.MaxRetryAttempts = 0);

        var ex = await Assert.ThrowsAsync<CometMpmBackendNotAvailableException>(() => client.Mpm.UploadDatasetCsvAsync(file, DatasetType.Events));

        Assert.Contains("Could not upload", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UploadDatasetCsvAsync_DisabledClient_ReturnsNotUploadedAndSendsNothing()
    {
        var file = SampleData.WriteTemp(SampleData.Csv);
        await using var client = TestClient.Create(_server.BaseUrl, o => o.Disabled = true);

        var result = await client.Mpm.UploadDatasetCsvAsync(file, DatasetType.Events);

        Assert.False(result.Uploaded);
        Assert.Contains("disabled", result.Message, StringComparison.Ordinal);
        Assert.Empty(_server.Requests);
        await Assert.ThrowsAsync<ArgumentException>(() => client.Mpm.UploadDatasetCsvAsync(file, DatasetType.TrainingEvents));
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; posts to the thread pool, which would race the assertions).</summary>
    private sealed class SyncProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
