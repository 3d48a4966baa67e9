using CometMpm.AspNetCore.Labels;
using Microsoft.AspNetCore.Mvc.Controllers;
using Microsoft.AspNetCore.Mvc.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace CometMpm.AspNetCore.Capture;

/// <summary>
/// Checks at application start every client name capture uses — the <c>CometMpm:Capture</c> section, each captured
/// minimal-API endpoint (<c>.WithCometMpm</c>, <c>[CometMpmPrediction]</c>), each MVC action with
/// <c>[CometMpmPrediction]</c> and each <c>MapCometMpmLabels</c> endpoint — and fails start with the endpoint, the wrong
/// name and the registered names. It runs once every hosted service has started (the web host has built its pipeline and
/// so its endpoints then), and builds the endpoints itself, which runs capture's filter factories once, as the first
/// request would have. Its exception fails <c>app.Run()</c>/<c>StartAsync</c>.
/// </summary>
internal sealed class CaptureStartupCheck(IServiceProvider services) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        var problems = services.GetRequiredService<CaptureProblems>();
        var global = services.GetRequiredService<IOptions<CometMpmAspNetCoreOptions>>().Value;
        Check(problems, () => CaptureClients.Resolve(services, global.Model, "the CometMpm:Capture section (Model)"), global.Model is not null);

        // Building the endpoints runs capture's filter factories (which report problems and record sample rates)...
        var endpoints = services.GetServices<EndpointDataSource>().SelectMany(source => source.Endpoints).ToList();
        var rates = services.GetRequiredService<CaptureSampleRates>();
        if (services.GetService<IActionDescriptorCollectionProvider>() is { } mvc)
        {
            foreach (var action in mvc.ActionDescriptors.Items.OfType<ControllerActionDescriptor>())
            {
                foreach (var attribute in action.FilterDescriptors.Select(d => d.Filter).OfType<CometMpmPredictionAttribute>())
                {
                    var model = attribute.Model ?? global.Model;
                    Check(problems, () => CaptureClients.Resolve(services, model, $"the action {action.DisplayName}"), true);
                    rates.Record(model, attribute.SampleRateOrNull ?? global.SampleRate);
                }
            }
        }

        // ...then the labels endpoints, which sample like the endpoints of the client they label.
        foreach (var endpoint in endpoints)
        {
            endpoint.Metadata.GetMetadata<LabelsEndpoint>()?.Check();
        }

        var all = problems.All;
        return all.Count == 0
            ? Task.CompletedTask
            : throw new InvalidOperationException("Comet MPM capture is misconfigured, so the application does not start:" + string.Concat(all.Select(p => Environment.NewLine + "- " + p)));
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static void Check(CaptureProblems problems, Action resolve, bool applies)
    {
        if (!applies)
        {
            return;
        }

        try
        {
            resolve();
        }
        catch (CaptureSetupException ex)
        {
            problems.Report(ex.Message);
        }
    }
}
