using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using CometMpm.Events;

namespace CometMpm.AspNetCore.Capture;

/// <summary>
/// Reads one feature from a root object through a chain of property getters built once (from the serializer's
/// <c>JsonPropertyInfo.Get</c> delegates) into its slot of the plan's values. The last getter is typed where the runtime
/// can make one (<see cref="LeafReader"/>), so a number or boolean is read without boxing.
/// </summary>
internal sealed class FeatureAccessor
{
    private readonly Func<object, object?>[] _path;
    private readonly LeafReader _leaf;
    private readonly Func<object, object?> _leafGetter;

    /// <param name="name">The feature's name.</param>
    /// <param name="path">The getters from the root to the feature's owner, then the feature's own (boxing) getter.</param>
    /// <param name="leaf">A typed reader of the last getter, or null to use the boxing one.</param>
    /// <param name="maxItems">For a collection opted in with [CometMpmFeature]: how many items are read (one feature each).</param>
    public FeatureAccessor(string name, Func<object, object?>[] path, LeafReader? leaf = null, int maxItems = 0)
    {
        Name = name;
        _path = path[..^1];
        _leafGetter = path[^1];
        _leaf = leaf ?? new BoxedLeafReader(_leafGetter);
        if (maxItems > 0)
        {
            ItemNames = new string[maxItems];
            for (var i = 0; i < maxItems; i++)
            {
                ItemNames[i] = name + "." + i.ToString(CultureInfo.InvariantCulture);
            }
        }
    }

    public string Name { get; }

    /// <summary>For a collection: the names of its item features (<c>name.0</c>, <c>name.1</c>, …); otherwise null.</summary>
    public string[]? ItemNames { get; }

    /// <summary>True for a collection opted in with [CometMpmFeature]: it writes one feature per item.</summary>
    public bool IsCollection => ItemNames is not null;

    /// <summary>How many slots of the schema the accessor fills.</summary>
    public int Width => ItemNames?.Length ?? 1;

    /// <summary>Writes the feature (or a collection's items, the rest <see cref="FeatureValue.Missing"/>) into its slots; returns how many are present.</summary>
    public int Write(object root, Span<FeatureValue> slots)
    {
        object? owner = root;
        foreach (var getter in _path)
        {
            if (owner is null)
            {
                break;
            }

            owner = getter(owner);
        }

        if (ItemNames is null)
        {
            slots[0] = owner is null ? default : _leaf.Read(owner);
            return 1;
        }

        var index = 0;
        if (owner is not null && _leafGetter(owner) is IEnumerable items and not string)
        {
            foreach (var item in items)
            {
                if (index == slots.Length)
                {
                    break;
                }

                slots[index++] = Normalize(item);
            }
        }

        slots[index..].Fill(FeatureValue.Missing);
        return index;
    }

    /// <summary>
    /// Normalizes a value by the client's one type table (<see cref="ValueNormalizer"/>), so capture sends what
    /// <c>LogEvent</c> sends; a value the table refuses becomes null, since capture never fails the request.
    /// </summary>
    public static FeatureValue Normalize(object? value) => ValueNormalizer.TryNormalize(value, out FeatureValue normalized) ? normalized : default;

    /// <summary>
    /// Whether values of a type are captured as one feature: the type table's, and <see cref="object"/>, whose
    /// value is normalized when read.
    /// </summary>
    public static bool IsScalarType(Type type) => type == typeof(object) || ValueNormalizer.IsSupportedType(type);
}

/// <summary>Reads a feature's value from its owner object.</summary>
internal abstract class LeafReader
{
    public abstract FeatureValue Read(object owner);

    /// <summary>
    /// A typed reader of <paramref name="member"/>'s getter (no boxing of numbers and booleans) when it is an instance
    /// property of a class and the runtime can make generic code at run time; null otherwise (the boxing getter is used).
    /// </summary>
    public static LeafReader? TryCreateTyped(ICustomAttributeProvider? member)
    {
        if (!RuntimeFeature.IsDynamicCodeSupported
            || member is not PropertyInfo { GetMethod: { IsStatic: false } getter, DeclaringType: { IsValueType: false } owner } property
            || property.GetIndexParameters().Length != 0 || owner.ContainsGenericParameters || property.PropertyType.IsByRefLike)
        {
            return null;
        }

        try
        {
            return CreateTyped(owner, property.PropertyType, getter);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or NotSupportedException or TargetInvocationException)
        {
            return null;
        }
    }

    [RequiresDynamicCode("Makes a generic reader for the property's type.")]
    private static LeafReader CreateTyped(Type owner, Type valueType, MethodInfo getter)
    {
        var create = typeof(LeafReader).GetMethod(nameof(Typed), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(owner, valueType);
        return (LeafReader)create.Invoke(null, [getter])!;
    }

    private static LeafReader Typed<TOwner, TValue>(MethodInfo getter)
        where TOwner : class =>
        new TypedLeafReader<TOwner, TValue>(getter.CreateDelegate<Func<TOwner, TValue>>());
}

/// <summary>Reads through the serializer's getter, which boxes value types.</summary>
internal sealed class BoxedLeafReader(Func<object, object?> getter) : LeafReader
{
    public override FeatureValue Read(object owner) => FeatureAccessor.Normalize(getter(owner));
}

/// <summary>Reads through a typed delegate of the property's getter: numbers and booleans stay unboxed.</summary>
internal sealed class TypedLeafReader<TOwner, TValue>(Func<TOwner, TValue> getter) : LeafReader
    where TOwner : class
{
    public override FeatureValue Read(object owner) => FeatureValue.From(getter((TOwner)owner));
}
