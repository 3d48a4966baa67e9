using System.Buffers;
using System.Text.Json;
using CometMpm.Events;

namespace CometMpm.Serialization;

/// <summary>
/// A batch of events of one kind on its way to the backend: fresh events from the queue or a batch read
/// back from the outbox. It can be serialized, and split in two when the backend refuses it (to isolate
/// a bad event) or it is too large.
/// </summary>
internal abstract class BatchPayload
{
    protected BatchPayload(MpmEventKind kind) => Kind = kind;

    public MpmEventKind Kind { get; }

    public bool IsLabels => Kind == MpmEventKind.Label;

    /// <summary>"prediction" or "label", for messages.</summary>
    public string KindName => IsLabels ? "label" : "prediction";

    public abstract int Count { get; }

    /// <summary>The body <c>{"data":[...]}</c>; valid until the serializer's next use.</summary>
    public abstract ReadOnlyMemory<byte> Serialize(BatchSerializer serializer);

    /// <summary>The same body as <see cref="Serialize"/>, written in slices that let other work run in between.</summary>
    public virtual ValueTask<ReadOnlyMemory<byte>> SerializeAsync(BatchSerializer serializer) => ValueTask.FromResult(Serialize(serializer));

    public abstract BatchPayload Slice(int start, int count);

    public abstract string PredictionIdAt(int index);

    public (BatchPayload First, BatchPayload Second) Halve()
    {
        var half = Count / 2;
        return (Slice(0, half), Slice(half, Count - half));
    }

    public IReadOnlyList<string> PredictionIds(int max)
    {
        var ids = new string[Math.Min(max, Count)];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = PredictionIdAt(i);
        }

        return ids;
    }
}

/// <summary>Fresh events, as a segment of an array (halving copies nothing).</summary>
internal sealed class EventPayload(MpmEventKind kind, ArraySegment<MpmEvent> events) : BatchPayload(kind)
{
    public ArraySegment<MpmEvent> Events { get; } = events;

    public override int Count => Events.Count;

    public override ReadOnlyMemory<byte> Serialize(BatchSerializer serializer) => serializer.Serialize(Events);

    public override ValueTask<ReadOnlyMemory<byte>> SerializeAsync(BatchSerializer serializer) => serializer.SerializeAsync(Events);

    public override BatchPayload Slice(int start, int count) => new EventPayload(Kind, Events.Slice(start, count));

    public override string PredictionIdAt(int index) => Events[index].PredictionId;
}

/// <summary>Events read back from an outbox file, kept as the JSON the backend will get.</summary>
internal sealed class JsonPayload(MpmEventKind kind, ArraySegment<JsonElement> events) : BatchPayload(kind)
{
    public ArraySegment<JsonElement> Events { get; } = events;

    public override int Count => Events.Count;

    public override ReadOnlyMemory<byte> Serialize(BatchSerializer serializer) => serializer.Serialize(Events);

    public override BatchPayload Slice(int start, int count) => new JsonPayload(Kind, Events.Slice(start, count));

    public override string PredictionIdAt(int index) =>
        Events[index].TryGetProperty("predictionId", out var id) ? (id.ValueKind == JsonValueKind.String ? id.GetString()! : id.GetRawText()) : "?";

    /// <summary>Parses a body written by <see cref="BatchSerializer"/>; with <paramref name="expectedCount"/>, one of that many events.</summary>
    public static JsonPayload Parse(MpmEventKind kind, ReadOnlySequence<byte> body, int? expectedCount = null)
    {
        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        var events = document.RootElement.GetProperty("data").EnumerateArray().Select(e => e.Clone()).ToArray();
        foreach (var e in events)
        {
            // Anything else is not a batch this library wrote: the caller sets the file aside rather than send it.
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("predictionId", out var id) || id.ValueKind != JsonValueKind.String)
            {
                throw new FormatException("an element of data is not an event with a string predictionId");
            }
        }

        if (expectedCount is { } expected && events.Length != expected)
        {
            throw new FormatException($"it holds {events.Length} events where its name says {expected}");
        }

        return new JsonPayload(kind, events);
    }
}
