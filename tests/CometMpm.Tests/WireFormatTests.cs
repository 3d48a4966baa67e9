using System.Text;
using System.Text.Json;
using CometMpm.Tests.Infrastructure;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

/// <summary>What goes over the wire, checked on a real Kestrel server against protocol §2–§4.</summary>
public sealed class WireFormatTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1717243200456);

    [Fact]
    public async Task LogEvent_AllParts_SendsThePythonSdkJsonWithKeysInOrder()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        var result = client.Mpm.LogEvent(
            "txn-000981",
            Features(("amount", 129.5), ("country", "PT"), ("card_present", false)),
            Features(("value", "legit"), ("probability", 0.97)),
            Features(("chargeback", false)),
            At);

        Assert.True(result.IsAccepted, result.ToString());
        Assert.True(await client.Mpm.FlushAsync());
        var request = Assert.Single(server.Batches);
        Assert.Equal("/mpm/v2/events/batch", request.Path);
        Assert.Equal(
            """{"data":[{"modelName":"fraud-detector","modelVersion":"2.3.0","workspaceName":"payments","predictionId":"txn-000981","timestamp":1717243200456,"features":{"amount":129.5,"country":"PT","card_present":false},"prediction":{"value":"legit","probability":0.97},"labels":{"chargeback":false}}]}""",
            request.Body);
    }

    [Fact]
    public async Task KeySets_RepeatedChangedReorderedAndConcurrent_EachEventSendsItsOwnNamesInItsOwnOrder()
    {
        // A caller repeating its keys shares one schema (names encoded once); every change of keys, order or count must
        // still send exactly the caller's names, also when threads with different key sets race for the shared schema.
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        string[][] keySets = [["a", "b"], ["a", "b"], ["b", "a"], ["a", "b", "c"], ["a"], ["a", "x"], [], ["a", "b"]];
        var expected = new Dictionary<string, string>();
        var id = 0;
        foreach (var keys in keySets)
        {
            Log(keys, id++);
        }

        await Parallel.ForAsync(0, 400, (i, _) =>
        {
            Log(keySets[i % keySets.Length].Select(k => new string(k.AsSpan())).ToArray(), 1000 + i);
            return ValueTask.CompletedTask;
        });

        Assert.True(await client.Mpm.FlushAsync());
        var sent = server.Batches.SelectMany(b => JsonDocument.Parse(b.Body).RootElement.GetProperty("data").EnumerateArray())
            .ToDictionary(e => e.GetProperty("predictionId").GetString()!, e => e.GetProperty("features").GetRawText());
        Assert.Equal(expected.Count, sent.Count);
        foreach (var (predictionId, features) in expected)
        {
            Assert.Equal(features, sent[predictionId]);
        }

        void Log(string[] keys, int n)
        {
            var input = new Dictionary<string, object?>();
            foreach (var key in keys)
            {
                input[key] = $"{key}{n}";
            }

            var predictionId = $"p-{n}";
            Assert.True(client.Mpm.LogEvent(predictionId, input).IsAccepted);
            lock (expected)
            {
                expected[predictionId] = "{" + string.Join(",", keys.Select(k => $"\"{k}\":\"{k}{n}\"")) + "}";
            }
        }
    }

    [Fact]
    public async Task Requests_CarryRawApiKeyAndJsonContentType()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        client.Mpm.LogEvent("p1", Features(("a", 1)));
        await client.Mpm.FlushAsync();

        var requests = server.Requests;
        Assert.Contains(requests, r => r.Method == "GET" && r.Path == "/mpm/isAlive/ping");
        Assert.All(requests, r => Assert.Equal(ApiKey, r.Headers["Authorization"]));
        var batch = Assert.Single(server.Batches);
        Assert.Equal("application/json", batch.Headers["Content-Type"]);
        Assert.Equal(Encoding.UTF8.GetByteCount(batch.Body).ToString(System.Globalization.CultureInfo.InvariantCulture), batch.Headers["Content-Length"]);
    }

    [Theory]
    [InlineData(1713006000123, 1713006000123)]
    [InlineData(1713006000999, 1713006000999)]
    [InlineData(1713006000000, 1713006000000)]
    public async Task Timestamp_IsWholeMillisecondsSinceEpoch(long milliseconds, long expected)
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        client.Mpm.LogEvent("p1", timestamp: DateTimeOffset.FromUnixTimeMilliseconds(milliseconds).AddTicks(9999));
        await client.Mpm.FlushAsync();

        var sent = Assert.Single(Assert.Single(server.Batches).Events);
        Assert.Equal(JsonValueKind.Number, sent.GetProperty("timestamp").ValueKind);
        Assert.Equal(expected, sent.GetProperty("timestamp").GetInt64());
    }

    [Fact]
    public async Task Timestamp_DefaultsToTheTimeOfTheLogCall()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(At);
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, timeProvider: time);

        client.Mpm.LogEvent("p1");
        time.Advance(TimeSpan.FromSeconds(5));
        await client.Mpm.FlushAsync();

        Assert.Equal(At.ToUnixTimeMilliseconds(), Assert.Single(Assert.Single(server.Batches).Events).GetProperty("timestamp").GetInt64());
    }

    [Fact]
    public async Task InclusionRules_FollowProtocolSection44()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        client.Mpm.LogEvent("empty-features", new Dictionary<string, object?>(), timestamp: At);
        client.Mpm.LogEvent("no-features", timestamp: At);
        client.Mpm.LogEvent("empty-output-and-labels", Features(("a", 1)), new Dictionary<string, object?>(), new Dictionary<string, object?>(), At);
        client.Mpm.LogEvent("inline-labels", Features(("a", 1)), labels: Features(("l", "yes")), timestamp: At);
        client.Mpm.LogLabel("label-empty", new Dictionary<string, object?>(), At);
        client.Mpm.LogLabel("label-null", null, At);
        await client.Mpm.FlushAsync();

        var events = server.Batches.Single(b => b.Path.EndsWith("events/batch", StringComparison.Ordinal)).Events;
        Assert.Equal("""{"modelName":"fraud-detector","modelVersion":"2.3.0","workspaceName":"payments","predictionId":"empty-features","timestamp":1717243200456,"features":{}}""", events[0].GetRawText());
        Assert.Equal("""{"modelName":"fraud-detector","modelVersion":"2.3.0","workspaceName":"payments","predictionId":"no-features","timestamp":1717243200456}""", events[1].GetRawText());
        Assert.Equal("""{"modelName":"fraud-detector","modelVersion":"2.3.0","workspaceName":"payments","predictionId":"empty-output-and-labels","timestamp":1717243200456,"features":{"a":1}}""", events[2].GetRawText());
        Assert.Equal("""{"modelName":"fraud-detector","modelVersion":"2.3.0","workspaceName":"payments","predictionId":"inline-labels","timestamp":1717243200456,"features":{"a":1},"labels":{"l":"yes"}}""", events[3].GetRawText());

        var labels = server.Batches.Single(b => b.Path.EndsWith("labels/batch", StringComparison.Ordinal)).Events;
        Assert.Equal("""{"modelName":"fraud-detector","modelVersion":"2.3.0","workspaceName":"payments","predictionId":"label-empty","timestamp":1717243200456,"labels":{}}""", labels[0].GetRawText());
        Assert.Equal("{}", labels[1].GetProperty("labels").GetRawText());
    }

    [Fact]
    public async Task Flush_SplitsPredictionsThenLabels_KeepingCallOrder()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        for (var i = 0; i < 5; i++)
        {
            client.Mpm.LogEvent($"p{i}", Features(("i", i)));
            if (i < 3)
            {
                client.Mpm.LogLabel($"p{i}", Features(("y", i % 2 == 0)));
            }
        }

        await client.Mpm.FlushAsync();

        var batches = server.Batches;
        Assert.Equal(2, batches.Count);
        Assert.Equal("/mpm/v2/events/batch", batches[0].Path);
        Assert.Equal(["p0", "p1", "p2", "p3", "p4"], batches[0].Events.Select(e => e.GetProperty("predictionId").GetString()));
        Assert.Equal("/mpm/v2/labels/batch", batches[1].Path);
        Assert.Equal(["p0", "p1", "p2"], batches[1].Events.Select(e => e.GetProperty("predictionId").GetString()));
        Assert.Equal("""{"y":true}""", batches[1].Events[0].GetProperty("labels").GetRawText());
    }

    [Fact]
    public async Task Values_KeepIntegerPrecisionAndFloatDistinction_AndNonFiniteBecomesNull()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        var features = Features(
            ("big", 9007199254740993L),
            ("one_float", 1.0),
            ("neg_zero", -0.0),
            ("huge", 1e300),
            ("tiny", 5e-324),
            ("sum", 0.1 + 0.2),
            ("single", 0.5f),
            ("money", 12.50m),
            ("nan", double.NaN),
            ("inf", double.PositiveInfinity),
            ("ninf", float.NegativeInfinity),
            ("none", null),
            ("color", ConsoleColor.DarkRed),
            ("letter", 'x'),
            ("u64", ulong.MaxValue),
            ("json", JsonDocument.Parse("12.0").RootElement));
        Assert.True(client.Mpm.LogEvent("p1", features).IsAccepted);
        await client.Mpm.FlushAsync();

        var sent = Assert.Single(Assert.Single(server.Batches).Events).GetProperty("features").GetRawText();
        Assert.Equal(
            """{"big":9007199254740993,"one_float":1.0,"neg_zero":-0.0,"huge":1E+300,"tiny":5E-324,"sum":0.30000000000000004,"single":0.5,"money":12.50,"nan":null,"inf":null,"ninf":null,"none":null,"color":"DarkRed","letter":"x","u64":18446744073709551615,"json":12.0}""",
            sent);
    }

    [Fact]
    public async Task Strings_AreEscapedAsValidJson()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        client.Mpm.LogEvent("id \"quoted\" é", Features(("name \n", "ünïcode ✓ \u0001 </script>")));
        await client.Mpm.FlushAsync();

        var sent = Assert.Single(Assert.Single(server.Batches).Events);
        Assert.Equal("id \"quoted\" é", sent.GetProperty("predictionId").GetString());
        Assert.Equal("ünïcode ✓ \u0001 </script>", sent.GetProperty("features").GetProperty("name \n").GetString());
    }

#pragma warning disable CS0618 // the deprecated arguments are what these tests are about
    [Fact]
    public async Task DeprecatedOutputs_MapAsPythonSdk()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        client.Mpm.LogEvent("only-deprecated", null, "yes", 0.6);
        client.Mpm.LogEvent("only-value", null, "yes", null);
        client.Mpm.LogEvent("both-plus-features", null, "yes", 0.6, Features(("score", 3), ("value", "override")));
        client.Mpm.LogEvent("one-plus-features", null, null, 0.6, Features(("score", 3)));
        await client.Mpm.FlushAsync();

        var events = Assert.Single(server.Batches).Events;
        Assert.Equal("""{"value":"yes","probability":0.6}""", events[0].GetProperty("prediction").GetRawText());
        Assert.Equal("""{"value":"yes"}""", events[1].GetProperty("prediction").GetRawText());
        Assert.Equal("""{"value":"override","probability":0.6,"score":3}""", events[2].GetProperty("prediction").GetRawText());

        // The Python SDK silently drops a single deprecated argument next to output features; we merge it.
        Assert.Equal("""{"probability":0.6,"score":3}""", events[3].GetProperty("prediction").GetRawText());
        Assert.Contains(client.Logs.GetSnapshot(), r => r.Message.Contains("deprecated", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DeprecatedLabel_BecomesValue_WithoutChangingTheCallersMap()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        var labels = Features(("a", 1));

        client.Mpm.LogLabel("p1", (object?)"x");
        client.Mpm.LogLabel("p2", "x", labels);
        await client.Mpm.FlushAsync();

        var events = Assert.Single(server.Batches).Events;
        Assert.Equal("""{"value":"x"}""", events[0].GetProperty("labels").GetRawText());
        Assert.Equal("""{"a":1,"value":"x"}""", events[1].GetProperty("labels").GetRawText());
        Assert.Single(labels);
    }
#pragma warning restore CS0618

    [Fact]
    public async Task ApiKeyWithEmbeddedBaseUrl_SendsToThatServer()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        var suffix = Convert.ToBase64String(Encoding.UTF8.GetBytes($$"""{"baseUrl": "{{server.BaseUrl.ToString().TrimEnd('/')}}"}""")).TrimEnd('=');
        var key = "abc123*" + suffix;
        var settings = Settings(server.BaseUrl);
        settings.Remove("CometMpm:UrlOverride");
        settings["CometMpm:ApiKey"] = key;
        await using var client = await StartAsync(settings);

        client.Mpm.LogEvent("p1");
        Assert.True(await client.Mpm.FlushAsync());

        var batch = Assert.Single(server.Batches);
        Assert.Equal("/mpm/v2/events/batch", batch.Path);
        Assert.Equal(key, batch.Headers["Authorization"]);
    }

    [Fact]
    public async Task UrlOverridePath_IsDropped_AndBasePathIsHonoured()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server, settings: new Dictionary<string, string?>
        {
            ["CometMpm:UrlOverride"] = new Uri(server.BaseUrl, "some/prefix").ToString(),
            ["CometMpm:BasePath"] = "/custom/mpm/",
        });

        client.Mpm.LogEvent("p1");
        client.Mpm.LogLabel("p1", Features(("y", 1)));
        await client.Mpm.FlushAsync();

        Assert.Contains(server.Requests, r => r.Path == "/custom/mpm/isAlive/ping");
        Assert.Equal(["/custom/mpm/v2/events/batch", "/custom/mpm/v2/labels/batch"], server.Batches.Select(b => b.Path));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(128)] // exactly two slices
    [InlineData(197)] // three slices and a part
    public async Task SlicedSerialization_WritesTheSameBytesAsTheWholeBatch(int count)
    {
        // The sender writes batches in slices (yielding between them); the outbox writes them in one piece. Both must be
        // byte for byte the same, across slice boundaries, with names that need escaping or are long, and with the same
        // name in different string instances. One serializer is reused after a larger batch, as the sender reuses its own.
        var model = new CometMpm.Events.ModelIdentity("ws", "model", "1");
        var longName = new string('n', 200);
        var events = new List<CometMpm.Events.MpmEvent>();
        for (var i = 0; i < count; i++)
        {
            var input = new Dictionary<string, object?>
            {
                [new string("amount".AsSpan())] = i * 1.5,
                ["quote\"d é"] = $"v{i}",
                [longName] = i % 2 == 0,
                ["ratio"] = (float)(i / 3.0),
                ["count"] = i,
            };
            var error = CometMpm.Events.EventFactory.TryCreatePrediction(
                model, $"id-{i}", input, new Dictionary<string, object?> { ["value"] = i % 3 }, null, 1717243200456 + i, out var mpmEvent);
            Assert.Null(error);
            events.Add(mpmEvent!);
        }

        var whole = Encoding.UTF8.GetString(new CometMpm.Serialization.BatchSerializer().Serialize(events).Span);
        var serializer = new CometMpm.Serialization.BatchSerializer();
        _ = serializer.Serialize([.. events, .. events]); // leaves a longer body in the reused buffer
        var pending = serializer.SerializeAsync(events);
        if (count <= CometMpm.Serialization.BatchSerializer.SliceSize)
        {
            Assert.True(pending.IsCompleted); // one slice: no yield (beyond that the continuation may already have run)
        }

        var sliced = Encoding.UTF8.GetString((await pending).Span);

        Assert.Equal(whole, sliced);
        using var document = JsonDocument.Parse(sliced);
        var data = document.RootElement.GetProperty("data");
        Assert.Equal(count, data.GetArrayLength());
        if (count > 7)
        {
            Assert.Equal("v7", data[7].GetProperty("features").GetProperty("quote\"d é").GetString());
            Assert.Equal(10.5, data[7].GetProperty("features").GetProperty("amount").GetDouble());
        }
    }
}
