using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CometMpm.Testing;

/// <summary>A real Kestrel app on 127.0.0.1 with a free port: the local server the test projects script and record with.</summary>
internal static class LoopbackApp
{
    public static async Task<(WebApplication App, Uri BaseUrl)> StartAsync(RequestDelegate handler, bool unlimitedBody = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        if (unlimitedBody)
        {
            builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        }

        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(handler);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address.TrimEnd('/') + "/"));
    }
}
