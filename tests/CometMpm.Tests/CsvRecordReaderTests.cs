using CometMpm.Csv;
using CometMpm.Datasets;

namespace CometMpm.Tests;

/// <summary>The client library's copy of the shared CSV record reader (the emulator links the same source file).</summary>
public sealed class CsvRecordReaderTests
{
    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    public void Read_QuotedCommasDoubledQuotesAndLineBreaks_AreOneRecord_WithItsStartingLine(string end)
    {
        var csv = $"a,b{end}\"x, \"\"y\"\"{end}z\",2{end}plain,3{end}";

        var records = ReadAll(csv, bufferSize: 3); // a tiny buffer: every state is cut by a refill somewhere

        Assert.Equal([(1L, "a|b"), (2L, $"x, \"y\"{end}z|2"), (4L, "plain|3")], records);
    }

    [Fact]
    public void Read_UnclosedQuote_ThrowsNamingTheLineTheRecordStartsOn()
    {
        const string Csv = "h1,h2\n1,2\n\"open,3\nmore,4\n";

        var error = Assert.Throws<CsvFormatException>(() => ReadAll(Csv, bufferSize: 4));

        Assert.Equal(3, error.Line);
        Assert.Equal("line 3: a quoted field opened in this record is not closed before the end of the file (a missing \")", error.Message);
    }

    [Fact]
    public void Read_QuoteInsideAnUnquotedField_IsText_AndAQuoteClosedAtTheEnd_IsFine()
    {
        Assert.Equal([(1L, "5\" disk|\"last\"")], ReadAll("5\" disk,\"\"\"last\"\"\"", bufferSize: 2));
    }

    [Fact]
    public void ReadAndValidate_HeaderWithAnUnclosedQuote_SaysLineOne()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cometmpm-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, "timestamp,\"predictionId,feature_a\n1,p,2\n");
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => CsvHeader.ReadAndValidate(path, DatasetType.Events));

            Assert.Contains("line 1: a quoted field opened in this record is not closed", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static List<(long Line, string Fields)> ReadAll(string csv, int bufferSize)
    {
        var reader = new CsvRecordReader(new StringReader(csv), bufferSize);
        var fields = new List<string>();
        var records = new List<(long, string)>();
        while (reader.Read(fields))
        {
            records.Add((reader.RecordLine, string.Join("|", fields)));
        }

        return records;
    }
}
