using System.Text.Json.Serialization;
using CometMpm.Pipeline;

namespace CometMpm.Serialization;

/// <summary>The body of <c>events/batch</c> and <c>labels/batch</c>: <c>{"data":[...]}</c>.</summary>
internal sealed class EventBatchBody
{
    [JsonPropertyName("data")]
    public IReadOnlyList<MpmEvent> Data { get; set; } = [];
}

/// <summary>
/// Source-generated serialization of the wire bodies: no reflection, trimming- and AOT-safe. Metadata mode (not
/// the serialization-only fast path) because the feature maps are written by a property-level converter.
/// </summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EventBatchBody))]
[JsonSerializable(typeof(MpmEvent))]
internal sealed partial class MpmJsonContext : JsonSerializerContext;
