namespace CometMpm.Emulator;

/// <summary>The <c>comet-mpm-emulator</c> command.</summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var app = EmulatorApp.Build(args);
        await app.StartAsync().ConfigureAwait(false);
        var options = app.Services.GetRequiredService<MpmEmulatorOptions>();
        var basePath = options.NormalizedBasePath;
        foreach (var address in EmulatorApp.Addresses(app))
        {
            var root = address.TrimEnd('/');
            var extra = basePath == "/mpm/" ? string.Empty : $" COMET_MPM_BASE_PATH={basePath}";
            Console.WriteLine($"Comet MPM emulator: page {root}/ ; point the client at COMET_URL_OVERRIDE={root}{extra}");
        }

        Console.WriteLine(string.IsNullOrWhiteSpace(options.Db)
            ? "Comet MPM emulator: storing in memory (use --db PATH to keep data across restarts)"
            : $"Comet MPM emulator: storing in {Path.GetFullPath(options.Db)}");
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        return 0;
    }
}
