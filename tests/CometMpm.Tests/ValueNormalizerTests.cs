using System.Data;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using CometMpm.Events;
using CometMpm.Serialization;
using CometMpm.Tests.Infrastructure;
using static CometMpm.Tests.Infrastructure.TestClient;

namespace CometMpm.Tests;

/// <summary>The one type table (<see cref="ValueNormalizer"/>): what every CLR value becomes on the wire, through every entry point.</summary>
public sealed class ValueNormalizerTests
{
    private static readonly DateTime When = new(2024, 6, 1, 12, 30, 45, 123, DateTimeKind.Utc);
    private static readonly Guid Id = Guid.Parse("0193a4f2-7b1c-7e3a-9c55-2a4f0e1d9b77");

    /// <summary>Every row of the type table: a value and the JSON it is sent as.</summary>
    public static TheoryData<string, object?, string> Table => new()
    {
        { "null", null, "null" },
        { "string", "fraud", "\"fraud\"" },
        { "bool", true, "true" },
        { "int", -42, "-42" },
        { "long", long.MaxValue, "9223372036854775807" },
        { "short", (short)-7, "-7" },
        { "byte", (byte)255, "255" },
        { "sbyte", (sbyte)-8, "-8" },
        { "ushort", ushort.MaxValue, "65535" },
        { "uint", uint.MaxValue, "4294967295" },
        { "ulong", ulong.MaxValue, "18446744073709551615" },
        { "decimal", 12.50m, "12.50" },
        { "double", 129.5, "129.5" },
        { "double whole", 1.0, "1.0" },
        { "double NaN", double.NaN, "null" },
        { "double +Infinity", double.PositiveInfinity, "null" },
        { "double -Infinity", double.NegativeInfinity, "null" },
        { "float", 1.5f, "1.5" },
        { "float NaN", float.NaN, "null" },
        { "float -Infinity", float.NegativeInfinity, "null" },
        { "Half", (Half)1.5, "1.5" },
        { "Half NaN", Half.NaN, "null" },
        { "Half +Infinity", Half.PositiveInfinity, "null" },
        { "nint", (nint)(-5), "-5" },
        { "nuint", (nuint)5, "5" },
        { "Int128", Int128.MaxValue, "\"170141183460469231731687303715884105727\"" },
        { "UInt128", UInt128.MaxValue, "\"340282366920938463463374607431768211455\"" },
        { "BigInteger", BigInteger.Pow(10, 30), "\"1000000000000000000000000000000\"" },
        { "char", 'x', "\"x\"" },
        { "enum", DayOfWeek.Friday, "\"Friday\"" },
        { "flags enum", FileAccess.ReadWrite, "\"ReadWrite\"" },
        { "Guid", Id, "\"0193a4f2-7b1c-7e3a-9c55-2a4f0e1d9b77\"" },
        { "DateTime UTC", When, "\"2024-06-01T12:30:45.1230000Z\"" },
        { "DateTime unspecified", DateTime.SpecifyKind(When, DateTimeKind.Unspecified), "\"2024-06-01T12:30:45.1230000\"" },
        { "DateTimeOffset", new DateTimeOffset(2024, 6, 1, 14, 30, 45, 123, TimeSpan.FromHours(2)), "\"2024-06-01T14:30:45.1230000\\u002B02:00\"" }, // '+' escaped by the writer's default encoder, as ever
        { "DateOnly", new DateOnly(2024, 6, 1), "\"2024-06-01\"" },
        { "TimeOnly", new TimeOnly(12, 30, 45, 123), "\"12:30:45.1230000\"" },
        { "TimeSpan", new TimeSpan(1, 2, 3, 4, 500), "\"1.02:03:04.5000000\"" },
        { "TimeSpan negative", TimeSpan.FromMinutes(-90), "\"-01:30:00\"" },
        { "Uri absolute", new Uri("HTTPS://Example.com/a?q=1"), "\"HTTPS://Example.com/a?q=1\"" },
        { "Uri relative", new Uri("/score/7", UriKind.Relative), "\"/score/7\"" },
        { "JsonElement string", Json("\"a\""), "\"a\"" },
        { "JsonElement number", Json("1.50"), "1.50" },
        { "JsonElement big number", Json("12345678901234567890123"), "12345678901234567890123" },
        { "JsonElement true", Json("true"), "true" },
        { "JsonElement false", Json("false"), "false" },
        { "JsonElement null", Json("null"), "null" },
    };

    /// <summary>Values the table refuses, each with the type name the message gives.</summary>
    public static TheoryData<string, object, string> Refused => new()
    {
        { "object", new object(), "Object" },
        { "array", new[] { 1, 2 }, "Int32[]" },
        { "list", new List<int> { 1 }, "List`1" },
        { "dictionary", new Dictionary<string, object?> { ["x"] = 1 }, "Dictionary`2" },
        { "byte array", new byte[] { 1 }, "Byte[]" },
        { "Version", new Version(1, 2), "Version" },
        { "JsonElement object", Json("{\"a\":1}"), "JsonElement" },
        { "JsonElement array", Json("[1]"), "JsonElement" },
        { "default JsonElement", default(JsonElement), "JsonElement" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void TypeTable_EveryRow_IsSentAsItsWireValue(string row, object? value, string expected)
    {
        Assert.True(ValueNormalizer.TryNormalize(value, out FeatureValue normalized), row);

        Assert.Equal(expected, WireOf(normalized));
        Assert.True(value is null || ValueNormalizer.IsSupportedType(value.GetType()), $"{row}: the type-level table disagrees");
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public void TypeTable_NonScalars_AreRefusedWithTheMessageNamingTheFieldAndTheFix(string row, object value, string typeName)
    {
        Assert.False(ValueNormalizer.TryNormalize(value, out FeatureValue _), row);
        Assert.False(ValueNormalizer.IsSupportedType(value.GetType()) && value is not JsonElement, $"{row}: the type-level table disagrees");

        var message = ValueNormalizer.NotScalar("inputFeatures[\"x\"]", "x", value);
        Assert.StartsWith($"inputFeatures[\"x\"] is a {typeName}, which is not a scalar: values must be a string, bool, number,", message, StringComparison.Ordinal);
        Assert.Contains("Flatten nested objects into names such as \"x.field\"", message, StringComparison.Ordinal);
    }

    [Fact]
    public void TypeTable_ADisposedDocumentsElement_IsRefused()
    {
        var document = JsonDocument.Parse("{\"a\":1}");
        var element = document.RootElement.GetProperty("a");
        document.Dispose();

        Assert.False(ValueNormalizer.TryNormalize(element, out FeatureValue _));
    }

    [Fact]
    public void TypeTable_ABorrowedElement_IsCopiedAndOutlivesItsDocument()
    {
        FeatureValue normalized;
        using (var document = JsonDocument.Parse("{\"a\":\"kept\"}"))
        {
            Assert.True(ValueNormalizer.TryNormalize(document.RootElement.GetProperty("a"), out normalized));
        }

        Assert.Equal("\"kept\"", WireOf(normalized));
    }

    [Fact]
    public void TypeTable_NullableTypes_AreSupportedLikeTheirUnderlyingType()
    {
        Assert.True(ValueNormalizer.IsSupportedType(typeof(DateTime?)));
        Assert.True(ValueNormalizer.IsSupportedType(typeof(Half?)));
        Assert.True(ValueNormalizer.IsSupportedType(typeof(DayOfWeek?)));
        Assert.False(ValueNormalizer.IsSupportedType(typeof(object)));
        Assert.False(ValueNormalizer.IsSupportedType(typeof(KeyValuePair<string, int>?)));
    }

    [Fact]
    public void TypeTable_CommonScalars_AreNormalizedWithoutAllocating_AndStayTheCallersObjectWhereObjectsAreHandedOn()
    {
        object[] values = ["text", true, 42, 42L, 1.5, 1.5f, 12.5m, (short)1, (byte)1, (ulong)1];
        foreach (var value in values)
        {
            Assert.True(ValueNormalizer.TryNormalizeToObject(value, out var normalized));
            Assert.Same(value, normalized);
            Assert.True(ValueNormalizer.TryNormalize(value, out FeatureValue unboxed));
            Assert.Equal(value, unboxed.ToObject() is { } o && value is not string and not decimal ? Convert.ChangeType(o, value.GetType(), CultureInfo.InvariantCulture) : unboxed.ToObject());
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            foreach (var value in values)
            {
                ValueNormalizer.TryNormalize(value, out FeatureValue _);
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task LogEvent_DateTimeFeature_IsAcceptedAndSentAsTheIsoStringCaptureSends()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        var result = client.Mpm.LogEvent("p1", Features(("when", When)));

        Assert.True(result.IsAccepted, result.ToString());
        Assert.True(await client.Mpm.FlushAsync());
        var features = Assert.Single(Assert.Single(server.Batches).Events).GetProperty("features");
        Assert.Equal("""{"when":"2024-06-01T12:30:45.1230000Z"}""", features.GetRawText());
        Assert.Equal(When.ToString("O", CultureInfo.InvariantCulture), features.GetProperty("when").GetString());
    }

    [Fact]
    public async Task EveryTableRow_LogEventLogLabelAndRows_SendTheSameJson()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        var rows = Table.Select(r => ((string)r[0], (object?)r[1])).ToArray();
        var values = rows.ToDictionary(r => r.Item1, r => (object?)r.Item2);
        var expected = "{" + string.Join(",", Table.Select(r => $"{JsonSerializer.Serialize((string)r[0])}:{r[2]}")) + "}";

        Assert.True(client.Mpm.LogEvent("by-log-event", values).IsAccepted);
        Assert.True(client.Mpm.LogLabel("by-log-label", values).IsAccepted);
        var mapping = new RowMapping<int>(_ => "by-rows");
        foreach (var (name, value) in rows)
        {
            mapping.Feature(name, _ => value);
        }

        var logged = await client.Mpm.LogRowsAsync([0], mapping);
        Assert.Equal(1, logged.Logged);
        Assert.True(await client.Mpm.FlushAsync());

        var events = server.Batches.SelectMany(b => b.Events).ToDictionary(e => e.GetProperty("predictionId").GetString()!);
        Assert.Equal(expected, events["by-log-event"].GetProperty("features").GetRawText());
        Assert.Equal(expected, events["by-log-label"].GetProperty("labels").GetRawText());
        Assert.Equal(expected, events["by-rows"].GetProperty("features").GetRawText());
    }

    [Fact]
    public async Task DataReaderRows_DateTimeAndTimeSpanCells_AreSentAsLogEventSendsThem()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);
        using var table = new DataTable();
        table.Columns.Add("id", typeof(string));
        table.Columns.Add("when", typeof(DateTime)).DateTimeMode = DataSetDateTime.Utc;
        table.Columns.Add("took", typeof(TimeSpan));
        table.Columns.Add("missing", typeof(DateTime));
        table.Rows.Add("by-reader", When, TimeSpan.FromSeconds(90), DBNull.Value);

        using var reader = table.CreateDataReader();
        var logged = await client.Mpm.LogRowsAsync(reader, new RowColumns("id") { FeatureColumns = ["when", "took", "missing"] });
        Assert.True(client.Mpm.LogEvent("by-log-event", Features(("when", When), ("took", TimeSpan.FromSeconds(90)), ("missing", null))).IsAccepted);

        Assert.Equal(1, logged.Logged);
        Assert.True(await client.Mpm.FlushAsync());
        var features = server.Batches.SelectMany(b => b.Events).Select(e => e.GetProperty("features").GetRawText()).ToList();
        Assert.Equal(2, features.Count);
        Assert.Equal("""{"when":"2024-06-01T12:30:45.1230000Z","took":"00:01:30","missing":null}""", features[0]);
        Assert.Equal(features[0], features[1]);
    }

    [Fact]
    public async Task LogEvent_ANestedObject_IsStillRefusedNamingTheFieldAndTheFix()
    {
        await using var server = await ScriptedMpmServer.StartAsync();
        await using var client = await StartAsync(server);

        var result = client.Mpm.LogEvent("p1", Features(("customer", new Version(1, 0))));

        Assert.Equal(LogStatus.InvalidInput, result.Status);
        Assert.Equal(
            "inputFeatures[\"customer\"] is a Version, which is not a scalar: " + ValueNormalizer.Accepted + ". Flatten nested objects into names such as \"customer.field\", or convert the value to a string or number.",
            result.Message);
    }

    private static JsonElement Json(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static string WireOf(FeatureValue normalized)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            EventWriter.WriteValue(writer, normalized);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
