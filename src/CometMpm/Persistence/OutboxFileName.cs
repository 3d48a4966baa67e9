using System.Globalization;
using CometMpm.Events;
using CometMpm.Serialization;

namespace CometMpm.Persistence;

/// <summary>
/// The name of an outbox file: <c>{utcTicks:D19}-{count:D7}-{id}[-s{strikes}].{events|labels}.json</c>. Names sort
/// oldest first; the ticks are when the events were first written (a rewritten part keeps them, so the age cap
/// holds); strikes count the times the file failed while other requests succeeded.
/// </summary>
internal readonly record struct OutboxFileName(long Ticks, int Count, string Id, MpmEventKind Kind, int Strikes)
{
    public static OutboxFileName New(long ticks, int count, MpmEventKind kind) => new(ticks, count, Guid.NewGuid().ToString("N"), kind, 0);

    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Ticks:D19}-{Count:D7}-{Id}{(Strikes > 0 ? "-s" + Strikes.ToString(CultureInfo.InvariantCulture) : "")}.{(Kind == MpmEventKind.Label ? "labels" : "events")}.json");

    public static bool TryParse(string path, out OutboxFileName name)
    {
        name = default;
        var file = Path.GetFileName(path);
        MpmEventKind kind;
        string stem;
        if (file.EndsWith(".events.json", StringComparison.Ordinal))
        {
            kind = MpmEventKind.Prediction;
            stem = file[..^".events.json".Length];
        }
        else if (file.EndsWith(".labels.json", StringComparison.Ordinal))
        {
            kind = MpmEventKind.Label;
            stem = file[..^".labels.json".Length];
        }
        else
        {
            return false;
        }

        var parts = stem.Split('-');
        var strikes = 0;
        if (parts.Length is < 3 or > 4
            || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || parts[2].Length == 0
            || (parts.Length == 4 && !(parts[3].StartsWith('s') && int.TryParse(parts[3].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out strikes))))
        {
            return false;
        }

        name = new OutboxFileName(ticks, count, parts[2], kind, strikes);
        return true;
    }
}

/// <summary>A batch leased from the outbox (its payload is null for a journaled batch whose request is in flight).</summary>
internal sealed record LeasedBatch(string Path, OutboxFileName Name, long Bytes, JsonPayload? Payload);
