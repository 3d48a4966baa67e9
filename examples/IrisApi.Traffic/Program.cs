using System.Globalization;
using System.Net.Http.Json;

// Traffic for examples/IrisApi: sends N predictions (flowers of the shipped dataset, measured with a little noise,
// and with a drift towards larger petals in the second half), then, after a pause, the true species of a share
// of them as late labels. Watch the emulator's page fill up while it runs.
//   dotnet run --project examples/IrisApi.Traffic -- [--url http://127.0.0.1:5000] [--count 300] [--label-share 0.6] [--label-delay 5] [--seed 1]
var url = "http://127.0.0.1:5000";
var count = 300;
var labelShare = 0.6;
var labelDelay = TimeSpan.FromSeconds(5);
var seed = 1;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--url": url = Next().TrimEnd('/'); break;
        case "--count": count = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--label-share": labelShare = double.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--label-delay": labelDelay = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)); break;
        case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}; use --url, --count, --label-share, --label-delay, --seed");
            return 2;
    }
}

var rows = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "iris.csv")).Skip(1)
    .Where(line => line.Length > 0)
    .Select(line => line.Split(','))
    .Select(cells => (Features: cells[..4].Select(c => double.Parse(c, CultureInfo.InvariantCulture)).ToArray(), Species: cells[4]))
    .ToList();
var random = new Random(seed);
using var http = new HttpClient { BaseAddress = new Uri(url + "/") };

var sent = new List<(string Id, string Truth, string Predicted)>();
for (var n = 0; n < count; n++)
{
    var (features, species) = rows[random.Next(rows.Count)];
    var drift = n >= count / 2 ? 1.08 : 1.0; // the second half drifts: petals 8 % larger
    double Noisy(double v, double scale = 1.0) => Math.Round(Math.Max(0.1, v * scale + ((random.NextDouble() - 0.5) * 0.2)), 1);
    var body = new Dictionary<string, double>
    {
        ["sepal_length"] = Noisy(features[0]),
        ["sepal_width"] = Noisy(features[1]),
        ["petal_length"] = Noisy(features[2], drift),
        ["petal_width"] = Noisy(features[3], drift),
    };
    using var response = await http.PostAsJsonAsync("predict", body);
    if (!response.IsSuccessStatusCode)
    {
        Console.Error.WriteLine($"predict answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return 1;
    }

    var id = response.Headers.TryGetValues("X-Prediction-Id", out var ids) ? ids.First() : "";
    var answer = await response.Content.ReadFromJsonAsync<Dictionary<string, object>>();
    sent.Add((id, species, answer?["species"]?.ToString() ?? "?"));
    if ((n + 1) % 50 == 0)
    {
        Console.WriteLine($"{n + 1} predictions sent");
    }
}

var correct = sent.Count(s => s.Predicted == s.Truth);
Console.WriteLine($"{sent.Count} predictions sent; {correct} match the true species. Labels follow in {labelDelay.TotalSeconds:0.#} s.");
await Task.Delay(labelDelay);

var labelled = 0;
foreach (var (id, truth, _) in sent.Where(_ => random.NextDouble() < labelShare))
{
    using var response = await http.PostAsJsonAsync($"predictions/{Uri.EscapeDataString(id)}/labels", new Dictionary<string, string> { ["species"] = truth });
    if (!response.IsSuccessStatusCode)
    {
        Console.Error.WriteLine($"labels answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return 1;
    }

    labelled++;
}

Console.WriteLine($"{labelled} labels sent. The API sends them on within its MaxBatchTime (2 s in appsettings.json).");
return 0;
