using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Examples.Iris;

/// <summary>The four measurements of a flower, as the API receives them (names are the JSON names, and so the MPM features).</summary>
public sealed record IrisFeatures(
    [property: JsonPropertyName("sepal_length")] float SepalLength,
    [property: JsonPropertyName("sepal_width")] float SepalWidth,
    [property: JsonPropertyName("petal_length")] float PetalLength,
    [property: JsonPropertyName("petal_width")] float PetalWidth);

/// <summary>What the model answers: the species and the model's probability for it (the MPM output features).</summary>
public sealed record IrisPrediction(
    [property: JsonPropertyName("species")] string Species,
    [property: JsonPropertyName("probability")] double Probability);

/// <summary>One row of <c>data/iris.csv</c>.</summary>
public sealed class IrisRow
{
    [LoadColumn(0)]
    public float SepalLength { get; set; }

    [LoadColumn(1)]
    public float SepalWidth { get; set; }

    [LoadColumn(2)]
    public float PetalLength { get; set; }

    [LoadColumn(3)]
    public float PetalWidth { get; set; }

    [LoadColumn(4)]
    public string Species { get; set; } = "";

    /// <summary>The row's measurements as an API input.</summary>
    public IrisFeatures ToFeatures() => new(SepalLength, SepalWidth, PetalLength, PetalWidth);
}

/// <summary>The model's raw output row.</summary>
public sealed class IrisScore
{
    [ColumnName("PredictedLabel")]
    public string Species { get; set; } = "";

    public float[] Score { get; set; } = [];
}

/// <summary>
/// A multiclass classifier (ML.NET SDCA maximum entropy) trained at start from the Iris dataset shipped in
/// <c>data/iris.csv</c>: 80 % of the rows train it, 20 % measure its accuracy. Thread-safe.
/// </summary>
public sealed class IrisModel
{
    private readonly PredictionEngine<IrisRow, IrisScore> _engine;
    private readonly Lock _lock = new(); // a PredictionEngine is not thread-safe; the model is tiny, so one lock is enough

    private IrisModel(PredictionEngine<IrisRow, IrisScore> engine, double accuracy, int trainingRows, int testRows)
    {
        _engine = engine;
        Accuracy = accuracy;
        TrainingRows = trainingRows;
        TestRows = testRows;
    }

    /// <summary>Micro-accuracy on the held-out rows.</summary>
    public double Accuracy { get; }

    /// <summary>Rows the model was trained on.</summary>
    public int TrainingRows { get; }

    /// <summary>Rows the accuracy was measured on.</summary>
    public int TestRows { get; }

    /// <summary>The default location of the dataset: <c>data/iris.csv</c> next to the application.</summary>
    public static string DefaultDataPath => Path.Combine(AppContext.BaseDirectory, "data", "iris.csv");

    /// <summary>Reads the dataset's rows (header skipped).</summary>
    public static IReadOnlyList<IrisRow> ReadRows(string path) =>
        File.ReadLines(path).Skip(1).Where(line => line.Length > 0).Select(line =>
        {
            var cells = line.Split(',');
            return new IrisRow
            {
                SepalLength = float.Parse(cells[0], CultureInfo.InvariantCulture),
                SepalWidth = float.Parse(cells[1], CultureInfo.InvariantCulture),
                PetalLength = float.Parse(cells[2], CultureInfo.InvariantCulture),
                PetalWidth = float.Parse(cells[3], CultureInfo.InvariantCulture),
                Species = cells[4],
            };
        }).ToList();

    /// <summary>Trains the model from the CSV file (deterministic for a given seed).</summary>
    public static IrisModel Train(string csvPath, int seed = 7)
    {
        var ml = new MLContext(seed);
        var data = ml.Data.LoadFromTextFile<IrisRow>(csvPath, separatorChar: ',', hasHeader: true);
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: seed);

        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(IrisRow.Species))
            .Append(ml.Transforms.Concatenate("Features",
                nameof(IrisRow.SepalLength), nameof(IrisRow.SepalWidth), nameof(IrisRow.PetalLength), nameof(IrisRow.PetalWidth)))
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy())
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

        var model = pipeline.Fit(split.TrainSet);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(split.TestSet));
        var trainingRows = ml.Data.CreateEnumerable<IrisRow>(split.TrainSet, reuseRowObject: true).Count();
        var testRows = ml.Data.CreateEnumerable<IrisRow>(split.TestSet, reuseRowObject: true).Count();
        return new IrisModel(ml.Model.CreatePredictionEngine<IrisRow, IrisScore>(model), metrics.MicroAccuracy, trainingRows, testRows);
    }

    /// <summary>Predicts the species of a flower.</summary>
    public IrisPrediction Predict(IrisFeatures features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var row = new IrisRow
        {
            SepalLength = features.SepalLength,
            SepalWidth = features.SepalWidth,
            PetalLength = features.PetalLength,
            PetalWidth = features.PetalWidth,
        };
        IrisScore score;
        lock (_lock)
        {
            score = _engine.Predict(row);
        }

        return new IrisPrediction(score.Species, Math.Round(score.Score.Max(), 4));
    }
}
