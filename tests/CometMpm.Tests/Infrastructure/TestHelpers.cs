using System.Globalization;
using System.Text;
using CometMpm.Emulator;

namespace CometMpm.Tests.Infrastructure;

/// <summary>Waiting with a bound, outbox files as the library names and writes them, and the ids the emulator stored.</summary>
public static class TestHelpers
{
    /// <summary>Give up fast: one retry 10 ms apart, a 2 s end.</summary>
    public static Dictionary<string, string?> FastFailure() => new()
    {
        ["CometMpm:MaxRetryAttempts"] = "1",
        ["CometMpm:RetryBaseDelay"] = "00:00:00.010",
        ["CometMpm:EndTimeout"] = "00:00:02",
    };

    /// <summary>A client on <paramref name="server"/> with an outbox in <paramref name="outbox"/> and short timings, batches of 10.</summary>
    public static Dictionary<string, string?> OutboxSettings(Uri server, string outbox) => new(TestClient.Settings(server))
    {
        ["CometMpm:Outbox:Directory"] = outbox,
        ["CometMpm:Outbox:SpillInterval"] = "00:00:00.200",
        ["CometMpm:MaxRetryAttempts"] = "1",
        ["CometMpm:PingTimeout"] = "00:00:01",
        ["CometMpm:CircuitBreakDuration"] = "00:00:00.500",
        ["CometMpm:EndTimeout"] = "00:00:02",
        ["CometMpm:MaxBatchSize"] = "10",
    };

    /// <summary>The task's result, or null when it did not finish within <paramref name="seconds"/> (a hang is a failure, not a stuck test).</summary>
    public static async Task<bool?> TryWithin(Task<bool> task, int seconds)
    {
        try
        {
            return await task.WaitAsync(TimeSpan.FromSeconds(seconds));
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes; false then.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    /// <summary>An outbox file name as the library writes it: <c>{ticks:D19}-{count:D7}-{guid}.events.json</c>.</summary>
    public static string OutboxName(long ticks, int count) =>
        string.Create(CultureInfo.InvariantCulture, $"{ticks:D19}-{count:D7}-{Guid.NewGuid():N}.events.json");

    /// <summary>A batch body as the library writes it, for the model the test client logs to.</summary>
    public static string EventsBody(string prefix, int count)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var body = new StringBuilder("""{"data":[""");
        for (var i = 0; i < count; i++)
        {
            body.Append(i == 0 ? "" : ",")
                .Append("""{"modelName":"fraud-detector","modelVersion":"2.3.0","workspaceName":"payments","predictionId":""")
                .Append(CultureInfo.InvariantCulture, $"\"{prefix}-{i}\",\"timestamp\":{now},\"features\":{{\"i\":{i}}}}}");
        }

        return body.Append("]}").ToString();
    }

    /// <summary>Every prediction id the emulator stored, page by page.</summary>
    public static async Task<HashSet<string>> StoredIdsAsync(MpmEmulator emulator)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        long? after = null;
        while (true)
        {
            var page = await emulator.Client.GetEventsAsync(limit: 10_000, after: after);
            foreach (var e in page.Events)
            {
                ids.Add(e.PredictionId.GetString()!);
            }

            if (!page.HasMore)
            {
                return ids;
            }

            after = page.NextCursor;
        }
    }
}
