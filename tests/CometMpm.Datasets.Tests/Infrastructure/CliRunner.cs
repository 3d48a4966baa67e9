using System.Diagnostics;

namespace CometMpm.Datasets.Tests.Infrastructure;

/// <summary>Runs the built <c>comet-mpm</c> dll with <c>dotnet</c> as a child process, with only the given <c>COMET_*</c> variables.</summary>
public static class CliRunner
{
    /// <summary>The COMET_* variables of a CLI run against <paramref name="server"/>: the test key and one model.</summary>
    public static Dictionary<string, string?> Environment(Uri server, string workspace = "payments", string model = "fraud-detector", string version = "2.3.0") => new()
    {
        ["COMET_API_KEY"] = TestClient.ApiKey,
        ["COMET_URL_OVERRIDE"] = server.ToString(),
        ["COMET_MPM_WORKSPACE_NAME"] = workspace,
        ["COMET_MPM_MODEL_NAME"] = model,
        ["COMET_MPM_MODEL_VERSION"] = version,
    };

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(Dictionary<string, string?> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CliDll());
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("COMET_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    public static string CliDll()
    {
        // tests/CometMpm.Datasets.Tests/bin/<Configuration>/net10.0/ -> src/CometMpm.Cli/bin/<Configuration>/net10.0/
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = output.Parent!.Name;
        var root = output.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
        var dll = Path.Combine(root, "src", "CometMpm.Cli", "bin", configuration, output.Name, "CometMpm.Cli.dll");
        Assert.True(File.Exists(dll), $"Build src/CometMpm.Cli first: {dll} is missing.");
        return dll;
    }
}
