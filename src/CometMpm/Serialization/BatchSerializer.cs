using System.Buffers;
using System.Text.Json;
using CometMpm.Events;

namespace CometMpm.Serialization;

/// <summary>
/// Serializes batches into one reused buffer. Used by the background sender only, one batch at a
/// time: the returned memory is valid until the next call. Every body is <c>{"data":[...]}</c>, each
/// event written by <see cref="EventWriter"/>.
/// </summary>
internal sealed class BatchSerializer
{
    /// <summary>How many events <see cref="SerializeAsync"/> writes between two yields of its thread (about 30 µs of work).</summary>
    internal const int SliceSize = 64;

    private static readonly JsonEncodedText DataName = JsonEncodedText.Encode("data");
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _writer;

    public BatchSerializer()
    {
        _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
    }

    /// <summary>The size of a request carrying this event alone.</summary>
    public static int MeasureAlone(MpmEvent mpmEvent) => new BatchSerializer().Serialize([mpmEvent]).Length;

    /// <summary>Writes the body in one piece (the outbox paths).</summary>
    public ReadOnlyMemory<byte> Serialize(IReadOnlyList<MpmEvent> events)
    {
        Begin();
        foreach (var mpmEvent in events)
        {
            EventWriter.Write(_writer, mpmEvent);
        }

        return End();
    }

    /// <summary>
    /// Writes the same body as <see cref="Serialize(IReadOnlyList{MpmEvent})"/>, yielding the thread every
    /// <see cref="SliceSize"/> events. A batch of 1,000 events is about half a millisecond of CPU; on a busy host with one
    /// core, requests that arrive meanwhile would wait that long behind it (it showed in the API's p99 under a fixed-rate
    /// load). After a yield the sender continues behind the work already queued on the thread pool, so a request waits for
    /// one slice at most.
    /// </summary>
    public async ValueTask<ReadOnlyMemory<byte>> SerializeAsync(IReadOnlyList<MpmEvent> events)
    {
        Begin();
        for (var i = 0; i < events.Count; i++)
        {
            if (i > 0 && i % SliceSize == 0)
            {
                await Task.Yield();
            }

            EventWriter.Write(_writer, events[i]);
        }

        return End();
    }

    /// <summary>Writes events read back from the outbox, unchanged.</summary>
    public ReadOnlyMemory<byte> Serialize(IReadOnlyList<JsonElement> events)
    {
        Begin();
        foreach (var element in events)
        {
            element.WriteTo(_writer);
        }

        return End();
    }

    private void Begin()
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        _writer.WriteStartArray(DataName);
    }

    private ReadOnlyMemory<byte> End()
    {
        _writer.WriteEndArray();
        _writer.WriteEndObject();
        _writer.Flush();
        return _buffer.WrittenMemory;
    }
}
