using System.Text.Json.Serialization;
using CometMpm.Events;

namespace CometMpm.Serialization;

/// <summary>
/// Source-generated serialization of the wire events (the <c>{"data":[...]}</c> envelope around them is written by
/// <see cref="BatchSerializer"/>): no reflection, trimming- and AOT-safe. Metadata mode (not the serialization-only
/// fast path) because the feature maps are written by a converter registered here (the event type itself knows nothing of JSON writing).
/// </summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Converters = [typeof(FeatureItemsConverter)])]
[JsonSerializable(typeof(MpmEvent))]
internal sealed partial class MpmJsonContext : JsonSerializerContext;
