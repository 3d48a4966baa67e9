extern alias controllers;
extern alias iris;

using System.Net;
using System.Net.Http.Json;
using CometMpm.Emulator;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CometMpm.Examples.Tests;

/// <summary>The example apps, hosted with WebApplicationFactory (the real pipeline), capture into a real emulator.</summary>
public sealed class ExampleAppTests : IAsyncLifetime
{
    private MpmEmulator _emulator = null!;

    public async Task InitializeAsync() => _emulator = await MpmEmulator.StartAsync();

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    private void PointAtEmulator(IWebHostBuilder builder)
    {
        // An API key makes the examples use configuration instead of starting their own emulator.
        builder.UseSetting("CometMpm:ApiKey", "example-test-key");
        builder.UseSetting("CometMpm:UrlOverride", _emulator.BaseUrl.ToString());
    }

    [Fact]
    public async Task IrisApi_PredictionAndLabel_ReachTheEmulatorWithTheDtoFeatures()
    {
        await using var factory = new WebApplicationFactory<iris::Program>().WithWebHostBuilder(PointAtEmulator);
        using var http = factory.CreateClient();

        var response = await http.PostAsJsonAsync("/predict", new { sepal_length = 5.1, sepal_width = 3.5, petal_length = 1.4, petal_width = 0.2 });
        response.EnsureSuccessStatusCode();
        var id = Assert.Single(response.Headers.GetValues("X-Prediction-Id"));
        var label = await http.PostAsJsonAsync($"/predictions/{id}/labels", new { species = "setosa" });
        Assert.Equal(HttpStatusCode.Accepted, label.StatusCode);
        Assert.True(await factory.Services.GetRequiredService<ICometMpm>().FlushAsync());

        var stored = Assert.Single((await _emulator.Client.GetEventsAsync()).Events);
        Assert.Equal(id, stored.PredictionId.GetString());
        Assert.Equal(["petal_length", "petal_width", "sepal_length", "sepal_width"], stored.Features!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(5.1, stored.Features["sepal_length"].GetDouble(), 3);
        Assert.Equal("setosa", stored.Prediction!["species"].GetString());
        Assert.Equal("setosa", stored.Labels!["species"].GetString());
    }

    [Fact]
    public async Task ControllersApi_AttributedAction_IsCaptured()
    {
        await using var factory = new WebApplicationFactory<controllers::Program>().WithWebHostBuilder(PointAtEmulator);
        using var http = factory.CreateClient();

        var response = await http.PostAsJsonAsync("/iris/predict", new { sepal_length = 6.7, sepal_width = 3.0, petal_length = 5.2, petal_width = 2.3 });
        response.EnsureSuccessStatusCode();
        (await http.GetAsync("/iris")).EnsureSuccessStatusCode(); // not attributed: not captured
        Assert.True(await factory.Services.GetRequiredService<ICometMpm>().FlushAsync());

        var stored = Assert.Single((await _emulator.Client.GetEventsAsync()).Events);
        Assert.Equal(Assert.Single(response.Headers.GetValues("X-Prediction-Id")), stored.PredictionId.GetString());
        Assert.Equal("virginica", stored.Prediction!["species"].GetString());
    }
}
