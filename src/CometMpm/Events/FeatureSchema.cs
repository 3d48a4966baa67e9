using System.Text.Json;

namespace CometMpm.Events;

/// <summary>
/// The ordered feature names of a map, shared by every event made from the same source: a capture plan's input type,
/// an output type, a row mapping, or the key set a <c>LogEvent</c> caller repeats. The names are JSON-encoded once,
/// on first use by the serializer, and then written as raw bytes.
/// </summary>
internal sealed class FeatureSchema
{
    public static readonly FeatureSchema Empty = new([]);

    private JsonEncodedText[]? _encoded;

    public FeatureSchema(string[] names)
    {
        Names = names;
        foreach (var name in names)
        {
            NameChars += name.Length;
        }
    }

    public string[] Names { get; }

    public int Count => Names.Length;

    /// <summary>The sum of the names' lengths, for the events' size estimate.</summary>
    public int NameChars { get; }

    /// <summary>The names, JSON-encoded (escaped as the writer would); computed once, by whichever thread first writes.</summary>
    public JsonEncodedText[] EncodedNames => _encoded ?? Encode();

    private JsonEncodedText[] Encode()
    {
        var encoded = new JsonEncodedText[Names.Length];
        for (var i = 0; i < encoded.Length; i++)
        {
            encoded[i] = JsonEncodedText.Encode(Names[i]);
        }

        // Racing threads compute the same array; either one may win.
        _encoded = encoded;
        return encoded;
    }
}
