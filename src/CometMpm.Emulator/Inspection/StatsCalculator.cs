using System.Text.Json;
using CometMpm.Emulator.Persistence;
using CometMpm.Emulator.Serialization;

namespace CometMpm.Emulator.Inspection;

/// <summary>Per-feature count, missing count and distribution over a sample of predictions.</summary>
internal static class StatsCalculator
{
    private const int Bins = 10;
    private const int TopCategories = 8;

    public static ModelStats Compute(string workspace, string model, string version, IReadOnlyList<StoredRow> rows)
    {
        var accumulators = new Dictionary<(string Source, string Name), Accumulator>();
        var order = new List<(string Source, string Name)>();
        foreach (var row in rows)
        {
            Add("features", row.Features);
            Add("prediction", row.Prediction);
            Add("labels", row.Labels);
        }

        var features = order.Select(key => accumulators[key].ToStats(key.Source, key.Name, rows.Count)).ToList();
        return new ModelStats(workspace, model, version, rows.Count, features);

        void Add(string source, string? json)
        {
            if (json is null)
            {
                return;
            }

            using var document = JsonDocument.Parse(json);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var key = (source, property.Name);
                if (!accumulators.TryGetValue(key, out var accumulator))
                {
                    accumulators[key] = accumulator = new Accumulator();
                    order.Add(key);
                }

                accumulator.Add(property.Value);
            }
        }
    }

    private sealed class Accumulator
    {
        private readonly List<double> _numbers = [];
        private readonly Dictionary<string, int> _categories = new(StringComparer.Ordinal);
        private int _present;

        public void Add(JsonElement value)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.Number:
                    _present++;
                    _numbers.Add(value.GetDouble());
                    break;
                case JsonValueKind.String:
                    _present++;
                    Count(value.GetString()!);
                    break;
                case JsonValueKind.True or JsonValueKind.False:
                    _present++;
                    Count(value.ValueKind == JsonValueKind.True ? "true" : "false");
                    break;
                default:
                    break;
            }
        }

        public FeatureStats ToStats(string source, string name, int rows)
        {
            var kind = (_numbers.Count > 0, _categories.Count > 0) switch
            {
                (true, false) => "number",
                (false, true) => "category",
                (true, true) => "mixed",
                _ => "empty",
            };
            double? min = _numbers.Count > 0 ? _numbers.Min() : null;
            double? max = _numbers.Count > 0 ? _numbers.Max() : null;
            List<HistogramBin>? histogram = null;
            if (min is double lo && max is double hi)
            {
                var bins = hi > lo ? Bins : 1;
                var width = hi > lo ? (hi - lo) / bins : 1;
                var counts = new int[bins];
                foreach (var number in _numbers)
                {
                    counts[Math.Min(bins - 1, (int)((number - lo) / width))]++;
                }

                histogram = [.. counts.Select((count, i) => new HistogramBin(lo + (i * width), lo + ((i + 1) * width), count))];
            }

            List<CategoryCount>? top = _categories.Count == 0
                ? null
                : [.. _categories.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).Take(TopCategories)
                    .Select(c => new CategoryCount(c.Key, c.Value))];
            return new FeatureStats(source, name, _present, rows - _present, kind, min, max, histogram, top);
        }

        private void Count(string category) =>
            _categories[category] = _categories.TryGetValue(category, out var n) ? n + 1 : 1;
    }
}
