using CometMpm.Datasets.Tests.Infrastructure;

namespace CometMpm.Datasets.Tests;

/// <summary>What the user sees of the command line itself: help, version and usage errors, and that none of them sends anything.</summary>
public sealed class CliUsageTests : IAsyncLifetime
{
    private RecordingServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("", "upload", "ping")]
    [InlineData("upload", "--dataset-name", "--keep-default-na-values")]
    [InlineData("log", "--labels", "--format")]
    [InlineData("ping", "--retries", "--api-key")]
    public async Task Help_PrintsThatCommandsUsageOnStdout_ExitsZero_SendsNothing(string command, string named, string alsoNamed)
    {
        string[] args = command.Length == 0 ? ["--help"] : [command, "--help"];

        var run = await CliRunner.RunAsync(Environment(), args);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("Usage:", run.Stdout, StringComparison.Ordinal);
        Assert.Contains(named, run.Stdout, StringComparison.Ordinal);
        Assert.Contains(alsoNamed, run.Stdout, StringComparison.Ordinal);
        Assert.Equal("", run.Stderr);
        Assert.Empty(_server.Requests);
        if (command == "ping")
        {
            // Per-command help: ping's names ping's options, not upload's.
            Assert.DoesNotContain("--dataset-name", run.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Version_PrintsTheVersion_ExitsZero()
    {
        var run = await CliRunner.RunAsync(Environment(), "--version");

        Assert.Equal(0, run.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", run.Stdout);
        Assert.Empty(_server.Requests);
    }

    [Theory]
    [InlineData("--bogus", "ping", "--bogus")]
    [InlineData("--dataset-name", "ping", "--dataset-name", "x")] // an upload option is not one of ping's
    [InlineData("--labels", "upload", "FILE", "--type", "events", "--labels")]
    public async Task UnknownOption_StderrNamesTheFlag_ExitsTwo_StdoutEmpty(string flag, params string[] args)
    {
        var file = SampleData.WriteTemp(SampleData.Csv);

        var run = await CliRunner.RunAsync(Environment(), [.. args.Select(a => a == "FILE" ? file : a)]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(flag, run.Stderr, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task BadValue_NamesTheFlag_ExitsTwo()
    {
        var file = SampleData.WriteTemp(SampleData.Csv);

        var run = await CliRunner.RunAsync(Environment(), "upload", file, "--type", "events", "--retries", "many");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--retries", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public async Task TrainingUploadWithoutDatasetName_NamesTheFlag_NotTheParameter()
    {
        var file = SampleData.WriteTemp(SampleData.Csv);

        var run = await CliRunner.RunAsync(Environment(), "upload", file, "--type", "training-events", "--no-progress");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--dataset-name", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("datasetName", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task MissingModelSettings_NameTheFlagsAndVariables_AndNeverTheKey()
    {
        var environment = Environment();
        environment.Remove("COMET_MPM_MODEL_VERSION");

        var run = await CliRunner.RunAsync(environment, "log", SampleData.WriteTemp(SampleData.Csv));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--model-version", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("COMET_MPM_MODEL_VERSION", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(TestClient.ApiKey, run.Stderr + run.Stdout, StringComparison.Ordinal);
        Assert.Empty(_server.Requests);
    }

    private Dictionary<string, string?> Environment() => CliRunner.Environment(_server.BaseUrl);
}
