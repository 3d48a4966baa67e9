using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using CometMpm.Events;
using CometMpm.Serialization;

namespace CometMpm.Benchmarks;

/// <summary>
/// The background sender's JSON stage: <see cref="BatchSerializer"/> writing one <c>{"data":[...]}</c> body of 1,000
/// prediction events (the default batch size), with 10 or 100 input features and 2 output features each. The events/s
/// and MB/s columns are computed from the mean time and the body size.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
[Config(typeof(ThroughputConfig))]
public class SerializationBenchmarks
{
    public const int BatchSize = 1000;

    private BatchSerializer _serializer = null!;
    private MpmEvent[] _events = null!;

    [Params(10, 100)]
    public int Features { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _serializer = new BatchSerializer();
        _events = CreateBatch(Features);
    }

    [Benchmark(Description = "BatchSerializer, 1,000 events")]
    public int Serialize() => _serializer.Serialize(_events).Length;

    /// <summary>What the sender runs: the same body, written in slices of 64 events with a thread-pool yield between them.</summary>
    [Benchmark(Description = "BatchSerializer sliced (the sender's), 1,000 events")]
    public async Task<int> SerializeSliced() => (await _serializer.SerializeAsync(_events)).Length;

    /// <summary>A batch of predictions like <see cref="LogEventBenchmarks"/> logs: 40% numbers, 40% strings, 20% bools.</summary>
    internal static MpmEvent[] CreateBatch(int features)
    {
        var model = new ModelIdentity("bench", "loans", "1");
        var events = new MpmEvent[BatchSize];

        // As the client does: a caller repeating its key set shares one schema (the names are new strings every event).
        var schemas = new RecentSchemas();
        var start = 1_796_000_000_000L;
        for (var i = 0; i < events.Length; i++)
        {
            var input = new Dictionary<string, object?>();
            for (var f = 0; f < features; f++)
            {
                input[$"feature_{f:D3}"] = (f % 10) switch
                {
                    < 4 => (object?)((i * 0.37) + (f * 1.5)),
                    < 8 => $"value-{(i + f) % 50}",
                    _ => (i + f) % 2 == 0,
                };
            }

            var output = new Dictionary<string, object?> { ["value"] = i % 3 == 0 ? "decline" : "approve", ["probability"] = (i % 100) / 100.0 };
            var error = EventFactory.TryCreatePrediction(
                model, $"0193c1a2-7b3c-7def-8000-{i:D12}", input, output, null, start + i, out var mpmEvent, schemas);
            if (error is not null)
            {
                throw new InvalidOperationException(error);
            }

            events[i] = mpmEvent!;
        }

        return events;
    }

    /// <summary>Adds events/s and MB/s (of JSON body) to the summary.</summary>
    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig()
        {
            AddColumn(new ThroughputColumn("Body (KB)", (bytes, _) => (bytes / 1024.0).ToString("N1", CultureInfo.InvariantCulture)));
            AddColumn(new ThroughputColumn("Events/s", (_, ns) => (BatchSize / (ns / 1e9)).ToString("N0", CultureInfo.InvariantCulture)));
            AddColumn(new ThroughputColumn("MB/s", (bytes, ns) => (bytes / 1e6 / (ns / 1e9)).ToString("N0", CultureInfo.InvariantCulture)));
        }
    }

    private sealed class ThroughputColumn(string name, Func<long, double, string> format) : IColumn
    {
        private static readonly Dictionary<int, long> BodyBytes = [];

        public string Id => nameof(ThroughputColumn) + name;

        public string ColumnName => name;

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => 0;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => $"{name} of the JSON body, computed from the mean";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;
            if (mean is null || benchmarkCase.Parameters["Features"] is not int features)
            {
                return "-";
            }

            long bytes;
            lock (BodyBytes)
            {
                if (!BodyBytes.TryGetValue(features, out bytes))
                {
                    bytes = BodyBytes[features] = new BatchSerializer().Serialize(CreateBatch(features)).Length;
                }
            }

            return format(bytes, mean.Value);
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
