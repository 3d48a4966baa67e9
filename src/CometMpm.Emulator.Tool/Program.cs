using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CometMpm.Emulator;

/// <summary>The <c>comet-mpm-emulator</c> command.</summary>
internal static class Program
{
    private const string Usage = """
        comet-mpm-emulator: a local Comet MPM backend (event and label batches, CSV uploads, a page to watch them arrive).

        Usage: comet-mpm-emulator [--urls http://127.0.0.1:5080] [--db mpm.db] [--base-path /mpm/]

          --urls URL        where to listen (default http://localhost:5000)
          --db PATH         keep the data in this SQLite file (default: in memory)
          --base-path PATH  the MPM API's path (default /mpm/; the client's COMET_MPM_BASE_PATH)
          --version         print the version and exit
          --help            print this help and exit

        Point a client at it with COMET_URL_OVERRIDE=<the printed address> (any API key is accepted).
        """;

    private static async Task<int> Main(string[] args)
    {
        if (args.Any(a => a is "--help" or "-h" or "-?" or "help"))
        {
            await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
            return 0;
        }

        if (args.Contains("--version"))
        {
            await Console.Out.WriteLineAsync(typeof(Program).Assembly.GetName().Version?.ToString(3) ?? "0.0.0").ConfigureAwait(false);
            return 0;
        }

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
