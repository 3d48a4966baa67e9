using System.Text;

namespace CometMpm.Datasets.Tests.Infrastructure;

/// <summary>The seed's sample CSV (upload_dataset_csv docstring) and the same rows as objects.</summary>
public static class SampleData
{
    public const string Csv =
        "timestamp,predictionId,feature_oneMoreFeature,feature_anotherFeature,feature_someFeature,prediction_fingers_count,prediction_probability,prediction_value,label_value_fingers_count,label_value_animal\n"
        + "1713006000001,someAssetId_-1895825684,Dog,special,53.09863247819340,7,0.87,Bird,4,Fish\n"
        + "1713006600001,someAssetId_926457604,null,special,55.73110218323990,1,0.69,Fish,6,Fish\n"
        + "1713007200001,someAssetId_2145792990,Rabbit,special,49.40627545548700,4,0.59,Bird,1,Fish\n";

    public const string LabelsCsv =
        "timestamp,predictionId,label_value_fingers_count,label_value_animal\n"
        + "1713006000001,someAssetId_-1895825684,4,Fish\n";

    /// <summary>The sample rows as a batch job holds them; the timestamp is in seconds, as log_dataframe takes it.</summary>
    public static IReadOnlyList<SampleRow> Rows { get; } =
    [
        new("someAssetId_-1895825684", 1713006000.001, "Dog", "special", 53.09863247819340, 7, 0.87, "Bird", 4, "Fish"),
        new("someAssetId_926457604", 1713006600.001, null, "special", 55.73110218323990, 1, 0.69, "Fish", 6, "Fish"),
        new("someAssetId_2145792990", 1713007200.001, "Rabbit", "special", 49.40627545548700, 4, 0.59, "Bird", 1, "Fish"),
    ];

    public static RowColumns Columns { get; } = new(nameof(SampleRow.PredictionId))
    {
        FeatureColumns = ["oneMoreFeature", "anotherFeature", "someFeature"],
        OutputFeaturesColumns = ["fingers_count", "probability", "value"],
        LabelsColumns = ["label_fingers_count", "animal"],
        TimestampColumn = "timestamp",
    };

    public static System.Data.DataTable Table()
    {
        var table = new System.Data.DataTable();
        table.Columns.Add("PredictionId", typeof(string));
        table.Columns.Add("timestamp", typeof(double));
        table.Columns.Add("oneMoreFeature", typeof(string));
        table.Columns.Add("anotherFeature", typeof(string));
        table.Columns.Add("someFeature", typeof(double));
        table.Columns.Add("fingers_count", typeof(int));
        table.Columns.Add("probability", typeof(double));
        table.Columns.Add("value", typeof(string));
        table.Columns.Add("label_fingers_count", typeof(int));
        table.Columns.Add("animal", typeof(string));
        foreach (var r in Rows)
        {
            table.Rows.Add(r.PredictionId, r.timestamp, (object?)r.oneMoreFeature ?? DBNull.Value, r.anotherFeature, r.someFeature, r.fingers_count, r.probability, r.value, r.label_fingers_count, r.animal);
        }

        return table;
    }

    public static Microsoft.Data.Analysis.DataFrame Frame()
    {
        var rows = Rows;
        return new Microsoft.Data.Analysis.DataFrame(
            new Microsoft.Data.Analysis.StringDataFrameColumn("PredictionId", rows.Select(r => r.PredictionId)),
            new Microsoft.Data.Analysis.DoubleDataFrameColumn("timestamp", rows.Select(r => r.timestamp)),
            new Microsoft.Data.Analysis.StringDataFrameColumn("oneMoreFeature", rows.Select(r => r.oneMoreFeature)),
            new Microsoft.Data.Analysis.StringDataFrameColumn("anotherFeature", rows.Select(r => r.anotherFeature)),
            new Microsoft.Data.Analysis.DoubleDataFrameColumn("someFeature", rows.Select(r => r.someFeature)),
            new Microsoft.Data.Analysis.Int32DataFrameColumn("fingers_count", rows.Select(r => r.fingers_count)),
            new Microsoft.Data.Analysis.DoubleDataFrameColumn("probability", rows.Select(r => r.probability)),
            new Microsoft.Data.Analysis.StringDataFrameColumn("value", rows.Select(r => r.value)),
            new Microsoft.Data.Analysis.Int32DataFrameColumn("label_fingers_count", rows.Select(r => r.label_fingers_count)),
            new Microsoft.Data.Analysis.StringDataFrameColumn("animal", rows.Select(r => r.animal)));
    }

    public static string WriteTemp(string content, string name = "sample.csv")
    {
        var directory = Path.Combine(Path.GetTempPath(), "cometmpm-datasets-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }
}

#pragma warning disable IDE1006 // the property names are the column names of the seed's sample
public sealed record SampleRow(
    string PredictionId,
    double timestamp,
    string? oneMoreFeature,
    string anotherFeature,
    double someFeature,
    int fingers_count,
    double probability,
    string value,
    int label_fingers_count,
    string animal);
#pragma warning restore IDE1006
