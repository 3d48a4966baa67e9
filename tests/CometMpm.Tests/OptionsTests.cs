using CometMpm.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

public sealed class OptionsTests
{
    [Theory]
    [InlineData("CometMpm:ApiKey", "COMET_API_KEY")]
    [InlineData("CometMpm:WorkspaceName", "COMET_MPM_WORKSPACE_NAME")]
    [InlineData("CometMpm:ModelName", "COMET_MPM_MODEL_NAME")]
    [InlineData("CometMpm:ModelVersion", "COMET_MPM_MODEL_VERSION")]
    public async Task Start_MissingRequiredSetting_FailsNamingTheKeyAndVariable(string key, string variable)
    {
        var settings = Settings(new Uri("http://127.0.0.1:1/"));
        settings.Remove(key);
        await using var client = await StartAsync(settings, start: false);

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => client.Host.StartAsync());

        Assert.Contains(key + " is missing", ex.Message, StringComparison.Ordinal);
        Assert.Contains(variable, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiKey, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CometMpm:MaxBatchSize", "0", "CometMpm:MaxBatchSize is 0 but must be between 1 and 100000")]
    [InlineData("CometMpm:QueueCapacity", "0", "CometMpm:QueueCapacity is 0")]
    [InlineData("CometMpm:MaxBatchTime", "-00:00:01", "CometMpm:MaxBatchTime")]
    [InlineData("CometMpm:EndTimeout", "02:00:00", "CometMpm:EndTimeout")]
    [InlineData("CometMpm:MaxRetryAttempts", "-1", "CometMpm:MaxRetryAttempts")]
    [InlineData("CometMpm:QueueCapacity", "10", "must not exceed CometMpm:QueueCapacity")]
    public async Task Start_OutOfRangeNumber_FailsNamingTheKey(string key, string value, string expected)
    {
        await using var client = await StartAsync(Settings(new Uri("http://127.0.0.1:1/")), settings: new Dictionary<string, string?> { [key] = value }, start: false);

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => client.Host.StartAsync());

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disabled_RegistersANoOpClient_AndMakesNoNetworkCall()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        var settings = new Dictionary<string, string?> { ["CometMpm:Disabled"] = "true", ["CometMpm:UrlOverride"] = server.BaseUrl.ToString() };
        await using var client = await StartAsync(settings);
        using var dropped = client.Collect("cometmpm.events.dropped");

        var result = client.Mpm.LogEvent("p1", Features(("a", 1)));
        var label = client.Mpm.LogLabel("p1", null);

        Assert.Equal(LogStatus.Disabled, result.Status);
        Assert.Equal(LogStatus.Disabled, label.Status);
        Assert.True(await client.Mpm.FlushAsync());
        Assert.True(await client.Mpm.EndAsync());
        Assert.Equal(2, dropped.GetMeasurementSnapshot().Where(m => (string?)m.Tags["error.type"] == "disabled").Sum(m => m.Value));
        await client.Host.StopAsync();
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task AddCometMpm_CalledTwice_RegistersOneClientAndOneSender()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(Settings(server.BaseUrl));
        builder.Services.AddCometMpm();
        builder.Services.AddCometMpm();
        using var host = builder.Build();

        Assert.Single(host.Services.GetServices<ICometMpm>());
        Assert.Single(host.Services.GetServices<IHostedService>());
        await host.StartAsync();
        Assert.Same(host.Services.GetRequiredService<ICometMpm>(), host.Services.GetRequiredService<ICometMpm>());
        host.Services.GetRequiredService<ICometMpm>().LogEvent("p1");
        await host.StopAsync();
        Assert.Single(server.Batches);
    }

    [Fact]
    public async Task AddCometMpm_ConfigurationSectionOverload_BindsThatSection()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        var config = new ConfigurationBuilder().AddInMemoryCollection(Settings(server.BaseUrl).ToDictionary(p => "Monitoring:" + p.Key["CometMpm:".Length..], p => p.Value)).Build();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddCometMpm(config.GetSection("Monitoring"));
        using var host = builder.Build();
        await host.StartAsync();

        host.Services.GetRequiredService<ICometMpm>().LogEvent("p1");
        await host.StopAsync();

        Assert.Equal("fraud-detector", Assert.Single(Assert.Single(server.Batches).Events).GetProperty("modelName").GetString());
    }

    [Fact]
    public async Task AddCometMpm_ActionOverload_WinsOverConfiguration()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, configure: o => o.ModelVersion = "from-code");

        client.Mpm.LogEvent("p1");
        await client.Mpm.FlushAsync();

        Assert.Equal("from-code", Assert.Single(Assert.Single(server.Batches).Events).GetProperty("modelVersion").GetString());
    }

    [Fact]
    public void Defaults_MatchThePythonSdk()
    {
        var options = new CometMpmOptions();
        Assert.Equal(1000, options.MaxBatchSize);
        Assert.Equal(TimeSpan.FromSeconds(60), options.MaxBatchTime);
        Assert.Equal(TimeSpan.FromSeconds(30), options.EndTimeout);
        Assert.Equal(TimeSpan.FromSeconds(300), options.BatchSendingTimeout);
        Assert.Equal(100, options.CsvChunkSizeMb);
        Assert.Equal("/mpm/", options.BasePath);
        Assert.False(options.RaiseOnErrorDuringInit);
        Assert.False(options.Disabled);
    }
}

[CollectionDefinition(nameof(EnvironmentVariables), DisableParallelization = true)]
public sealed class EnvironmentVariables;

/// <summary>These tests set real process environment variables, so they run alone.</summary>
[Collection(nameof(EnvironmentVariables))]
public sealed class EnvironmentVariableTests
{
    private static async Task<T> WithEnvironment<T>(Dictionary<string, string?> variables, Func<Task<T>> body)
    {
        foreach (var (name, value) in variables)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        try
        {
            return await body();
        }
        finally
        {
            foreach (var name in variables.Keys)
            {
                Environment.SetEnvironmentVariable(name, null);
            }
        }
    }

    private static Task<CometMpmOptions> ResolveAsync(Dictionary<string, string?> env, Dictionary<string, string?> config) =>
        WithEnvironment(env, async () =>
        {
            await using var client = await StartAsync(config, start: false);
            return client.Host.Services.GetRequiredService<IOptionsMonitor<CometMpmOptions>>().Get(Options.DefaultName);
        });

    [Fact]
    public async Task PythonSdkVariables_ConfigureTheClient()
    {
        var options = await ResolveAsync(
            new()
            {
                ["COMET_API_KEY"] = "env-key",
                ["COMET_MPM_WORKSPACE_NAME"] = "env-ws",
                ["COMET_MPM_MODEL_NAME"] = "env-model",
                ["COMET_MPM_MODEL_VERSION"] = "9",
                ["COMET_URL_OVERRIDE"] = "http://env.example:1234/",
                ["COMET_MPM_MAX_BATCH_SIZE"] = "7",
                ["COMET_MPM_MAX_BATCH_TIME"] = "3",
                ["COMET_MPM_JOIN_TIMEOUT"] = "4",
                ["COMET_MPM_BATCH_SENDING_TIMEOUT"] = "5",
                ["COMET_MPM_RAISE_ON_ERROR_DURING_INIT"] = "true",
                ["COMET_MPM_CSV_CHUNK_SIZE_MB"] = "6",
                ["COMET_MPM_BASE_PATH"] = "/x/mpm/",
                ["COMET_MPM_DISABLED"] = "false",
            },
            new());

        Assert.Equal("env-key", options.ApiKey);
        Assert.Equal("env-ws", options.WorkspaceName);
        Assert.Equal("env-model", options.ModelName);
        Assert.Equal("9", options.ModelVersion);
        Assert.Equal(new Uri("http://env.example:1234/"), options.UrlOverride);
        Assert.Equal(7, options.MaxBatchSize);
        Assert.Equal(TimeSpan.FromSeconds(3), options.MaxBatchTime);
        Assert.Equal(TimeSpan.FromSeconds(4), options.EndTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), options.BatchSendingTimeout);
        Assert.True(options.RaiseOnErrorDuringInit);
        Assert.Equal(6, options.CsvChunkSizeMb);
        Assert.Equal("/x/mpm/", options.BasePath);
        Assert.False(options.Disabled);
    }

    [Fact]
    public async Task SeedAliases_MpmMaxBatchVariables_AreAccepted()
    {
        var config = Settings(new Uri("http://127.0.0.1:1/"));
        config.Remove("CometMpm:UrlOverride");
        var options = await ResolveAsync(new() { ["MPM_MAX_BATCH_SIZE"] = "11", ["MPM_MAX_BATCH_TIME"] = "12", ["COMET_URL"] = "http://u.example/" }, config);

        Assert.Equal(11, options.MaxBatchSize);
        Assert.Equal(TimeSpan.FromSeconds(12), options.MaxBatchTime);
        Assert.Equal(new Uri("http://u.example/"), options.UrlOverride);
    }

    [Fact]
    public async Task ExplicitConfiguration_WinsOverEnvironment()
    {
        var options = await ResolveAsync(
            new() { ["COMET_MPM_MODEL_NAME"] = "env-model", ["COMET_MPM_MAX_BATCH_SIZE"] = "7" },
            new(Settings(new Uri("http://127.0.0.1:1/"))) { ["CometMpm:ModelName"] = "config-model" });

        Assert.Equal("config-model", options.ModelName);
        Assert.Equal(7, options.MaxBatchSize);
    }

    [Theory]
    [InlineData("COMET_MPM_MAX_BATCH_SIZE", "lots", "COMET_MPM_MAX_BATCH_SIZE must be a positive whole number")]
    [InlineData("COMET_MPM_MAX_BATCH_TIME", "0", "COMET_MPM_MAX_BATCH_TIME must be a positive whole number")]
    [InlineData("COMET_MPM_DISABLED", "maybe", "COMET_MPM_DISABLED must be true or false")]
    [InlineData("COMET_URL_OVERRIDE", "not a url", "COMET_URL_OVERRIDE is not an absolute http(s) URL")]
    public async Task InvalidVariable_FailsStartNamingIt(string name, string value, string expected)
    {
        var ex = await WithEnvironment(new() { [name] = value }, async () =>
        {
            await using var client = await StartAsync(Settings(new Uri("http://127.0.0.1:1/")), start: false);
            return await Assert.ThrowsAsync<OptionsValidationException>(() => client.Host.StartAsync());
        });

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CometMpm:MaxBatchSize", "ten", "CometMpm:MaxBatchSize is 'ten', which is not a whole number")]
    [InlineData("CometMpm:MaxBatchTime", "soon", "CometMpm:MaxBatchTime is 'soon', which is not a duration such as 00:00:30")]
    [InlineData("CometMpm:Outbox:SpillInterval", "1s", "CometMpm:Outbox:SpillInterval is '1s', which is not a duration")]
    [InlineData("CometMpm:Disabled", "nope", "CometMpm:Disabled is 'nope', which is not true or false")]
    [InlineData("CometMpm:FullQueuePolicy", "Block", "one of DropNewest, DropOldest or Wait")]
    public async Task UnreadableValue_FailsStartWithAnOptionsValidationException_NamingTheKeyAndTheFix(string key, string value, string expected)
    {
        var settings = Settings(new Uri("http://127.0.0.1:1/"));
        settings[key] = value;
        settings["CometMpm:QueueCapacity"] = "0"; // a second problem: both are reported, one list
        await using var client = await StartAsync(settings, start: false);

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => client.Host.StartAsync());

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains("CometMpm:QueueCapacity is 0", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".;", ex.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BoundedSettings()
    {
        var data = new TheoryData<string, string>();
        foreach (var (prefix, type) in new[] { ("", typeof(CometMpmOptions)), ("Outbox:", typeof(CometMpmOutboxOptions)) })
        {
            foreach (var property in type.GetProperties().Where(p => p.PropertyType == typeof(int) || p.PropertyType == typeof(long) || p.PropertyType == typeof(TimeSpan)))
            {
                // Every lower bound is zero or more: -1 (or minus one second) is below each of them.
                data.Add(prefix + property.Name, property.PropertyType == typeof(TimeSpan) ? "-00:00:01" : "-1");
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BoundedSettings))]
    public async Task EveryNumberOrDurationSetting_HasABound_AndAValueOutsideItFailsStartNamingTheKey(string key, string value)
    {
        var type = key.StartsWith("Outbox:", StringComparison.Ordinal) ? typeof(CometMpmOutboxOptions) : typeof(CometMpmOptions);
        var property = type.GetProperty(key.Split(':')[^1])!;
        Assert.True(
            property.GetCustomAttributes(inherit: false).Count(a => a.GetType().Name == "SettingRangeAttribute") == 1,
            $"{key} has no [SettingRange]: its bounds are not stated where the generated validator evaluates them");
        var settings = Settings(new Uri("http://127.0.0.1:1/"));
        settings["CometMpm:" + key] = value;
        settings["CometMpm:Outbox:Directory"] = key.StartsWith("Outbox:", StringComparison.Ordinal) ? Path.Combine(Path.GetTempPath(), "never-created-" + Guid.NewGuid().ToString("N")) : null;
        await using var client = await StartAsync(settings, start: false);

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => client.Host.StartAsync());

        Assert.Contains($"CometMpm:{key} is -", ex.Message, StringComparison.Ordinal);
        Assert.Contains("but must be", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EndTimeout_LongerThanTheHostsShutdownTimeout_FailsStartNamingBoth()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var settings = Settings(new Uri("http://127.0.0.1:1/"));
        settings["CometMpm:EndTimeout"] = "00:00:20";
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.AddCometMpm();
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("CometMpm:EndTimeout (00:00:20) is longer than the host's shutdown timeout (00:00:10)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("COMET_MPM_JOIN_TIMEOUT", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ShutdownTimeout", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DurationAsABareNumber_FailsWithAHintThatItIsDays()
    {
        var settings = Settings(new Uri("http://127.0.0.1:1/"));
        settings["CometMpm:MaxBatchTime"] = "5";
        await using var client = await StartAsync(settings, start: false);

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => client.Host.StartAsync());

        Assert.Contains("'5' alone is read as 5 days: write 00:00:05 for 5 seconds", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CometMpmDisabledVariable_True_GivesTheNoOpClient()
    {
        var type = await WithEnvironment(new() { ["COMET_MPM_DISABLED"] = "1" }, async () =>
        {
            await using var client = await StartAsync(new Dictionary<string, string?>());
            return client.Mpm.GetType();
        });

        Assert.Equal(typeof(DisabledCometMpm), type);
    }
}

public sealed class NamedClientTests
{
    [Fact]
    public async Task NamedClients_ShareCommonSettings_OverrideTheirOwn_AndSendSeparately()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        var settings = Settings(server.BaseUrl);
        settings["CometMpm:Models:fraud:ModelName"] = "fraud-model";
        settings["CometMpm:Models:churn:ModelName"] = "churn-model";
        settings["CometMpm:Models:churn:ModelVersion"] = "7";
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddCometMpm("fraud");
        builder.Services.AddCometMpm("churn", o => o.MaxBatchSize = 5);
        builder.Services.AddCometMpm("churn");
        using var host = builder.Build();
        await host.StartAsync();

        var fraud = host.Services.GetRequiredKeyedService<ICometMpm>("fraud");
        var churn = host.Services.GetRequiredKeyedService<ICometMpm>("churn");
        Assert.NotSame(fraud, churn);
        Assert.Null(host.Services.GetService<ICometMpm>());
        fraud.LogEvent("f1");
        churn.LogEvent("c1");
        await host.StopAsync();

        var events = server.Batches.SelectMany(b => b.Events).ToDictionary(e => e.GetProperty("predictionId").GetString()!);
        Assert.Equal("fraud-model", events["f1"].GetProperty("modelName").GetString());
        Assert.Equal("2.3.0", events["f1"].GetProperty("modelVersion").GetString());
        Assert.Equal("churn-model", events["c1"].GetProperty("modelName").GetString());
        Assert.Equal("7", events["c1"].GetProperty("modelVersion").GetString());
        Assert.Equal(5, host.Services.GetRequiredService<IOptionsMonitor<CometMpmOptions>>().Get("churn").MaxBatchSize);
    }

    [Fact]
    public async Task NamedClient_InvalidSettings_FailStartNamingItsSection()
    {
        var settings = Settings(new Uri("http://127.0.0.1:1/"));
        settings["CometMpm:Models:fraud:MaxBatchSize"] = "0";
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddCometMpm("fraud");
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("CometMpm:Models:fraud:MaxBatchSize is 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NamedClient_MissingModelName_PointsAtItsSection_NotAtTheSharedVariable()
    {
        var settings = Settings(new Uri("http://127.0.0.1:1/"));
        settings.Remove("CometMpm:ModelName");
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddCometMpm("fraud");
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("CometMpm:Models:fraud:ModelName is missing", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("COMET_MPM_MODEL_NAME", ex.Message, StringComparison.Ordinal);
    }
}
