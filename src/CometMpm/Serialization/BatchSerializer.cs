using System.Buffers;
using System.Text.Json;
using CometMpm.Pipeline;

namespace CometMpm.Serialization;

/// <summary>
/// Serializes batches into one reused buffer. Used by the background sender only, one batch at a
/// time: the returned memory is valid until the next call.
/// </summary>
internal sealed class BatchSerializer
{
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly EventBatchBody _body = new();
    private readonly Utf8JsonWriter _writer;

    public BatchSerializer()
    {
        _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
    }

    /// <summary>Writes <c>{"data":[...]}</c> with the source-generated <see cref="MpmJsonContext"/>.</summary>
    public ReadOnlyMemory<byte> Serialize(IReadOnlyList<MpmEvent> events)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _body.Data = events;
        try
        {
            JsonSerializer.Serialize(_writer, _body, MpmJsonContext.Default.EventBatchBody);
            _writer.Flush();
        }
        finally
        {
            _body.Data = [];
        }

        return _buffer.WrittenMemory;
    }

    /// <summary>Writes events read back from the outbox, unchanged.</summary>
    public ReadOnlyMemory<byte> Serialize(IReadOnlyList<JsonElement> events)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        _writer.WriteStartArray("data");
        foreach (var element in events)
        {
            element.WriteTo(_writer);
        }

        _writer.WriteEndArray();
        _writer.WriteEndObject();
        _writer.Flush();
        return _buffer.WrittenMemory;
    }
}
