using System.Text.Json.Serialization;
using CometMpm.Pipeline;

namespace CometMpm.Serialization;

/// <summary>
/// Source-generated serialization of the wire events (the <c>{"data":[...]}</c> envelope around them is written by
/// <see cref="BatchSerializer"/>): no reflection, trimming- and AOT-safe. Metadata mode (not the serialization-only
/// fast path) because the feature maps are written by a property-level converter.
/// </summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MpmEvent))]
internal sealed partial class MpmJsonContext : JsonSerializerContext;
