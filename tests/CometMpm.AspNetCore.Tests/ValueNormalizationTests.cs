using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CometMpm.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;

namespace CometMpm.AspNetCore.Tests;

/// <summary>A request whose properties are the types capture formats (the client's one type table).</summary>
public sealed record Moment(DateTime When, DateTimeOffset At, DateOnly Day, TimeOnly Time, TimeSpan Took, Uri Link, Half Ratio, Int128 Big, DayOfWeek Weekday, Guid Ref, double Score);

/// <summary>A request of the scalars capture reads without boxing.</summary>
public sealed record Unboxed(int I, long L, double D, float F, bool B, int? N, double? Nd, DayOfWeek E, string S, short Sh, int? NoValue);

/// <summary>Capture and the labels endpoint send what <c>LogEvent</c>/<c>LogLabel</c> and the command-line tool send for the same value.</summary>
public sealed class ValueNormalizationTests
{
    private static readonly Moment Sample = new(
        new DateTime(2024, 6, 1, 12, 30, 45, 123, DateTimeKind.Utc),
        new DateTimeOffset(2024, 6, 1, 14, 30, 45, 123, TimeSpan.FromHours(2)),
        new DateOnly(2024, 6, 1),
        new TimeOnly(12, 30, 45, 123),
        new TimeSpan(1, 2, 3, 4, 500),
        new Uri("HTTPS://Example.com/a?q=1"),
        (Half)1.5,
        Int128.MaxValue,
        DayOfWeek.Friday,
        Guid.Parse("0193a4f2-7b1c-7e3a-9c55-2a4f0e1d9b77"),
        1.0);

    [Fact]
    public async Task Capture_DatesTimesUrisAndBigNumbers_SendTheSameJsonAsLogEvent()
    {
        await using var app = await TestApp.StartAsync(a => a.MapPost("/moment", (Moment m) => m.When).WithCometMpm());

        var response = await app.Client.PostAsJsonAsync("/moment", Sample);
        response.EnsureSuccessStatusCode();
        var logged = app.Mpm.LogEvent(
            "by-log-event",
            new Dictionary<string, object?>
            {
                ["when"] = Sample.When, ["at"] = Sample.At, ["day"] = Sample.Day, ["time"] = Sample.Time, ["took"] = Sample.Took,
                ["link"] = Sample.Link, ["ratio"] = Sample.Ratio, ["big"] = Sample.Big, ["weekday"] = Sample.Weekday, ["ref"] = Sample.Ref,
                ["score"] = Sample.Score,
            },
            new Dictionary<string, object?> { ["value"] = Sample.When });
        Assert.True(logged.IsAccepted, logged.ToString());

        var events = await app.PredictionsAsync();
        var captured = Assert.Single(events, e => e.Id() != "by-log-event");
        var byLogEvent = Assert.Single(events, e => e.Id() == "by-log-event");
        Assert.Equal(RawValues(byLogEvent, "features"), RawValues(captured, "features"));
        Assert.Equal(RawValues(byLogEvent, "prediction"), RawValues(captured, "prediction"));
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["when"] = "\"2024-06-01T12:30:45.1230000Z\"",
                ["at"] = "\"2024-06-01T14:30:45.1230000\\u002B02:00\"",
                ["day"] = "\"2024-06-01\"",
                ["time"] = "\"12:30:45.1230000\"",
                ["took"] = "\"1.02:03:04.5000000\"",
                ["link"] = "\"HTTPS://Example.com/a?q=1\"",
                ["ratio"] = "1.5",
                ["big"] = "\"170141183460469231731687303715884105727\"",
                ["weekday"] = "\"Friday\"",
                ["ref"] = "\"0193a4f2-7b1c-7e3a-9c55-2a4f0e1d9b77\"",
                ["score"] = "1.0",
            },
            RawValues(captured, "features"));
    }

    [Fact]
    public async Task LabelsEndpoint_Numbers_AreSentAsWrittenAsTheCommandLineToolSendsThem()
    {
        await using var app = await TestApp.StartAsync(a => a.MapCometMpmLabels());
        const string body = """{"amount_lost":1.50,"count":3,"big":12345678901234567890123,"ratio":1e3,"note":"ok","flag":false,"missing":null}""";

        var response = await app.Client.PostAsync("/predictions/txn-1/labels", new StringContent(body, Encoding.UTF8, "application/json"));
        using var document = JsonDocument.Parse(body);
        var labels = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
        Assert.True(app.Mpm.LogLabel("by-log-label", labels).IsAccepted);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var sent = await app.LabelsAsync();
        Assert.Equal(2, sent.Count);
        Assert.All(sent, e => Assert.Equal(body, e.GetProperty("labels").GetRawText()));
    }

    [Fact]
    public void TypedReaders_NumbersBooleansEnumsAndStrings_AreReadWithoutAllocating()
    {
        var sample = new Unboxed(7, 8L, 1.5, 0.1f, true, 9, 2.5, DayOfWeek.Friday, "s", 3, null);
        var readers = typeof(Unboxed).GetProperties().Select(p => (p.Name, Reader: Capture.LeafReader.TryCreateTyped(p))).ToArray();
        Assert.All(readers, r => Assert.StartsWith("TypedLeafReader", r.Reader?.GetType().Name, StringComparison.Ordinal));
        object?[] expected = [7L, 8L, 1.5, 0.1f, true, 9L, 2.5, "Friday", "s", 3L, null];
        Assert.Equal(expected, readers.Select(r => r.Reader!.Read(sample).ToObject()));

        // Where the runtime cannot make generic code (Native AOT), the serializer's boxing getter reads the same values.
        var boxed = typeof(Unboxed).GetProperties().Select(p => new Capture.BoxedLeafReader(p.GetValue).Read(sample).ToObject());
        Assert.Equal(expected, boxed);

        ReadAll(); // the first calls may allocate (type initialization, the enum name cache)
        var before = GC.GetAllocatedBytesForCurrentThread();
        ReadAll();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        void ReadAll()
        {
            for (var i = 0; i < 1000; i++)
            {
                foreach (var (_, reader) in readers)
                {
                    reader!.Read(sample);
                }
            }
        }
    }

    [Fact]
    public void FeatureAccessor_ATypeTheTableRefuses_IsCapturedAsNull()
    {
        Assert.Null(Capture.FeatureAccessor.Normalize(new Version(1, 0)).ToObject());
        Assert.Equal("2024-06-01T12:30:45.1230000Z", Capture.FeatureAccessor.Normalize(Sample.When).ToObject());
        Assert.True(Capture.FeatureAccessor.IsScalarType(typeof(object)));
        Assert.True(Capture.FeatureAccessor.IsScalarType(typeof(TimeSpan?)));
        Assert.False(Capture.FeatureAccessor.IsScalarType(typeof(Version)));
    }

    private static Dictionary<string, string> RawValues(JsonElement e, string property) =>
        e.GetProperty(property).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
}
