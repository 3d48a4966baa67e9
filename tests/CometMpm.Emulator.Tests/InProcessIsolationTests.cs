using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CometMpm.Emulator.Tests;

[CollectionDefinition(nameof(ProcessEnvironment), DisableParallelization = true)]
public sealed class ProcessEnvironment;

/// <summary>Issue 13: started in-process, the emulator reads only its own options, never the host's configuration.</summary>
[Collection(nameof(ProcessEnvironment))]
public sealed class InProcessIsolationTests
{
    [Fact]
    public async Task StartAsync_WithTheHostsKestrelEndpointInTheEnvironment_DoesNotTakeThatPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var hostPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // free: the emulator could bind it if it read the variable
        Environment.SetEnvironmentVariable("Kestrel__Endpoints__Http__Url", $"http://127.0.0.1:{hostPort}");
        try
        {
            await using var emulator = await MpmEmulator.StartAsync();

            Assert.NotEqual(hostPort, emulator.BaseUrl.Port);
            Assert.True((await emulator.Client.GetModelsAsync()).Count >= 0);
        }
        finally
        {
            Environment.SetEnvironmentVariable("Kestrel__Endpoints__Http__Url", null);
        }
    }

    [Theory]
    [InlineData("--help", "Usage: comet-mpm-emulator")]
    [InlineData("--version", ".")]
    public async Task Tool_HelpAndVersion_PrintAndExitZero_WithoutStartingAServer(string flag, string expected)
    {
        var dll = typeof(MpmEmulator).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add(flag);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token); // a server would never exit: the timeout fails the test
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        Assert.Equal(0, process.ExitCode);
        Assert.Contains(expected, await output, StringComparison.Ordinal);
        Assert.DoesNotContain("Comet MPM emulator: page", await output, StringComparison.Ordinal);
    }
}
