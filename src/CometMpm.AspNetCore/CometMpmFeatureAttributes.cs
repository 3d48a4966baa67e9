namespace CometMpm.AspNetCore;

/// <summary>Excludes a property from the captured features.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = true)]
public sealed class CometMpmIgnoreAttribute : Attribute
{
}

/// <summary>
/// Names the feature a property becomes, instead of the name the JSON serializer gives it. On a collection of scalars
/// it also opts the collection in: its items become the features <c>name.0</c>, <c>name.1</c>, ... (collections are
/// skipped otherwise).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = true)]
public sealed class CometMpmFeatureAttribute : Attribute
{
    /// <summary>Keeps the serializer's name and only opts a collection in.</summary>
    public CometMpmFeatureAttribute()
    {
    }

    /// <summary>Renames the feature.</summary>
    /// <param name="name">The feature's name.</param>
    public CometMpmFeatureAttribute(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>The feature's name; the serializer's name when null.</summary>
    public string? Name { get; }
}

/// <summary>
/// Marks the property of the input type that carries the prediction id. It is used when the request has no
/// prediction id header, and is not sent as a feature.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = true)]
public sealed class CometMpmPredictionIdAttribute : Attribute
{
}

/// <summary>
/// Marks the handler or action parameter that is the model's input, when it is not the one bound from the body.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false, Inherited = true)]
public sealed class CometMpmInputAttribute : Attribute
{
}
