using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CometMpm.Emulator.Tests;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

[assembly: HostingStartup(typeof(HostsHostingStartup))]

namespace CometMpm.Emulator.Tests;

[CollectionDefinition(nameof(ProcessEnvironment), DisableParallelization = true)]
public sealed class ProcessEnvironment;

/// <summary>
/// A hosting startup of the host's (as Visual Studio or an APM agent injects through ASPNETCORE_HOSTINGSTARTUPASSEMBLIES):
/// it records every app it runs in, so a test can tell whether the emulator ran it.
/// </summary>
public sealed class HostsHostingStartup : IHostingStartup
{
    private static int _runs;

    public static int Runs => Volatile.Read(ref _runs);

    public void Configure(IWebHostBuilder builder) => Interlocked.Increment(ref _runs);
}

/// <summary>Issue 13: started in-process, the emulator reads only its own options, never the host's configuration.</summary>
[Collection(nameof(ProcessEnvironment))]
public sealed class InProcessIsolationTests
{
    [Fact]
    public async Task StartAsync_WithTheHostsKestrelEndpointInTheEnvironment_DoesNotTakeThatPort()
    {
        var hostPort = FreePort(); // free: the emulator could bind it if it read the variable
        using var _ = new EnvironmentVariables(("Kestrel__Endpoints__Http__Url", $"http://127.0.0.1:{hostPort}"));

        await using var emulator = await MpmEmulator.StartAsync();

        Assert.NotEqual(hostPort, emulator.BaseUrl.Port);
        Assert.True((await emulator.Client.GetModelsAsync()).Count >= 0);
    }

    [Fact]
    public async Task StartAsync_WithTheHostsUrlsEnvironmentAndHostingStartupsInTheEnvironment_UsesNoneOfThem()
    {
        var hostPort = FreePort();
        var contentRoot = Directory.CreateTempSubdirectory("mpm-emulator-host-root").FullName;
        using var _ = new EnvironmentVariables(
            ("ASPNETCORE_URLS", $"http://127.0.0.1:{hostPort}"),
            ("DOTNET_URLS", $"http://127.0.0.1:{hostPort}"),
            ("ASPNETCORE_HTTP_PORTS", hostPort.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("ASPNETCORE_ENVIRONMENT", "Development"),
            ("DOTNET_ENVIRONMENT", "Development"),
            ("ASPNETCORE_CONTENTROOT", contentRoot),
            ("ASPNETCORE_HOSTINGSTARTUPASSEMBLIES", typeof(HostsHostingStartup).Assembly.GetName().Name),
            ("Emulator__BasePath", "/host-configured/"));
        try
        {
            var runsBefore = HostsHostingStartup.Runs;

            await using var emulator = await MpmEmulator.StartAsync();

            Assert.NotEqual(hostPort, emulator.BaseUrl.Port);
            Assert.Equal(runsBefore, HostsHostingStartup.Runs);
            var environment = emulator.Services.GetRequiredService<IHostEnvironment>();
            Assert.Equal(Environments.Production, environment.EnvironmentName);
            Assert.NotEqual(contentRoot, environment.ContentRootPath.TrimEnd(Path.DirectorySeparatorChar));
            Assert.Equal("/mpm/", emulator.MpmBaseUrl.AbsolutePath);
            using var http = new HttpClient { BaseAddress = emulator.MpmBaseUrl };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("isAlive/ping")).StatusCode);
        }
        finally
        {
            Directory.Delete(contentRoot, recursive: true);
        }
    }

    [Theory]
    [InlineData("--help", "Usage: comet-mpm-emulator")]
    [InlineData("--version", ".")]
    public async Task Tool_HelpAndVersion_PrintAndExitZero_WithoutStartingAServer(string flag, string expected)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(TestSupport.ToolDll());
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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Sets process environment variables for one test and restores the previous values.</summary>
    private sealed class EnvironmentVariables : IDisposable
    {
        private readonly (string Name, string? Value)[] _previous;

        public EnvironmentVariables(params (string Name, string? Value)[] variables)
        {
            _previous = [.. variables.Select(v => (v.Name, Environment.GetEnvironmentVariable(v.Name)))];
            foreach (var (name, value) in variables)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }

        public void Dispose()
        {
            foreach (var (name, value) in _previous)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }
    }
}
