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
