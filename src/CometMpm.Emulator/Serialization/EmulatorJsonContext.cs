using System.Text.Json;
using System.Text.Json.Serialization;

namespace CometMpm.Emulator.Serialization;

/// <summary>Source-generated serialization for the emulator's own DTOs.</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ApiResponse))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
[JsonSerializable(typeof(ModelStats))]
[JsonSerializable(typeof(IReadOnlyList<EmulatorModelSummary>))]
[JsonSerializable(typeof(EmulatorEventsPage))]
[JsonSerializable(typeof(IReadOnlyList<EmulatorRequestRecord>))]
[JsonSerializable(typeof(EmulatorFaultPlan))]
[JsonSerializable(typeof(EmulatorFaultState))]
internal sealed partial class EmulatorJsonContext : JsonSerializerContext;
