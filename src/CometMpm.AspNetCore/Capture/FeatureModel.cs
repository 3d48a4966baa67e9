using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CometMpm.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CometMpm.AspNetCore.Capture;

/// <summary>The features of one type, as the application's JSON serializer sees it: built once, read per request.</summary>
internal sealed class FeatureModel(Type type, FeatureAccessor[] accessors, Func<object, object?>? predictionIdGetter)
{
    public Type Type { get; } = type;

    public FeatureAccessor[] Accessors { get; } = accessors;

    /// <summary>The getter of the property marked [CometMpmPredictionId], if any.</summary>
    public Func<object, object?>? PredictionIdGetter { get; } = predictionIdGetter;
}

/// <summary>
/// Builds and caches <see cref="FeatureModel"/>s per serializer options and type, from <see cref="JsonTypeInfo"/>:
/// names follow <c>[JsonPropertyName]</c> and the naming policy, <c>[JsonIgnore]</c>d properties are left out, and the
/// getters are the serializer's own delegates (no reflection per request, and no expression trees).
/// </summary>
internal sealed class FeatureModelCache(IOptions<CometMpmAspNetCoreOptions> options, CaptureDiagnostics diagnostics)
{
    private readonly ConcurrentDictionary<(JsonSerializerOptions Json, Type Type), FeatureModel> _models = new();
    private readonly CometMpmAspNetCoreOptions _options = options.Value;

    public FeatureModel Get(JsonSerializerOptions json, Type type) =>
        _models.GetOrAdd((json, type), static (key, self) => self.Build(key.Json, key.Type), this);

    private FeatureModel Build(JsonSerializerOptions json, Type type)
    {
        var accessors = new List<FeatureAccessor>();
        Func<object, object?>? idGetter = null;
        try
        {
            var info = json.GetTypeInfo(type);
            if (info.Kind == JsonTypeInfoKind.Object)
            {
                var visiting = new HashSet<Type> { type };
                AddProperties(json, info, prefix: "", path: [], accessors, visiting, depth: 0, ref idGetter);
            }
            else
            {
                CaptureLog.TypeUnreadable(diagnostics.Logger, type.FullName ?? type.Name, $"the serializer sees it as {info.Kind}, not an object with properties.");
            }
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            CaptureLog.TypeUnreadable(diagnostics.Logger, type.FullName ?? type.Name, ex.Message);
        }

        return new FeatureModel(type, [.. accessors], idGetter);
    }

    private void AddProperties(
        JsonSerializerOptions json,
        JsonTypeInfo info,
        string prefix,
        Func<object, object?>[] path,
        List<FeatureAccessor> accessors,
        HashSet<Type> visiting,
        int depth,
        ref Func<object, object?>? idGetter)
    {
        foreach (var property in info.Properties)
        {
            if (property.Get is not { } getter)
            {
                continue;
            }

            var attributes = property.AttributeProvider;
            if (attributes is not null)
            {
                if (attributes.IsDefined(typeof(CometMpmIgnoreAttribute), inherit: true))
                {
                    continue;
                }

                if (attributes.IsDefined(typeof(CometMpmPredictionIdAttribute), inherit: true))
                {
                    if (depth == 0)
                    {
                        idGetter = getter;
                    }

                    continue;
                }

                if (IsBoundFromServices(attributes))
                {
                    continue;
                }
            }

            var feature = attributes?.GetCustomAttributes(typeof(CometMpmFeatureAttribute), inherit: true) is [CometMpmFeatureAttribute f, ..] ? f : null;
            var name = prefix + (feature?.Name ?? property.Name);
            Func<object, object?>[] propertyPath = [.. path, getter];
            var propertyType = property.PropertyType;
            if (FeatureAccessor.IsScalarType(propertyType))
            {
                accessors.Add(new FeatureAccessor(name, propertyPath, LeafReader.TryCreateTyped(attributes)));
                continue;
            }

            if (IsFrameworkType(propertyType))
            {
                continue;
            }

            var owner = info.Type.Name;
            var member = (attributes as MemberInfo)?.Name ?? property.Name;
            JsonTypeInfo propertyInfo;
            try
            {
                propertyInfo = json.GetTypeInfo(propertyType);
            }
            catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException)
            {
                CaptureLog.UnsupportedPropertySkipped(diagnostics.Logger, owner, member, name, propertyType.Name);
                continue;
            }

            switch (propertyInfo.Kind)
            {
                case JsonTypeInfoKind.Enumerable when feature is not null:
                    accessors.Add(new FeatureAccessor(name, propertyPath, maxItems: Math.Max(1, _options.MaxCollectionItems)));
                    break;
                case JsonTypeInfoKind.Enumerable:
                    CaptureLog.CollectionSkipped(diagnostics.Logger, owner, member, name, "collection");
                    break;
                case JsonTypeInfoKind.Dictionary:
                    CaptureLog.CollectionSkipped(diagnostics.Logger, owner, member, name, "dictionary");
                    break;
                case JsonTypeInfoKind.Object when depth + 1 < _options.MaxDepth && visiting.Add(propertyType):
                    AddProperties(json, propertyInfo, name + ".", propertyPath, accessors, visiting, depth + 1, ref idGetter);
                    visiting.Remove(propertyType);
                    break;
                case JsonTypeInfoKind.Object:
                    break;
                default:
                    CaptureLog.UnsupportedPropertySkipped(diagnostics.Logger, owner, member, name, propertyType.Name);
                    break;
            }
        }
    }

    private static bool IsBoundFromServices(ICustomAttributeProvider attributes)
    {
        foreach (var attribute in attributes.GetCustomAttributes(inherit: true))
        {
            if (attribute is IFromServiceMetadata or FromKeyedServicesAttribute)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Types that are never model data (the request itself, services, streams, tokens).</summary>
    internal static bool IsFrameworkType(Type type)
    {
        var ns = type.Namespace;
        return ns is not null && (ns.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)
            || ns.StartsWith("Microsoft.Extensions", StringComparison.Ordinal)
            || ns.StartsWith("System.IO", StringComparison.Ordinal)
            || ns.StartsWith("System.Threading", StringComparison.Ordinal)
            || ns.StartsWith("System.Security", StringComparison.Ordinal)
            || ns.StartsWith("System.Net", StringComparison.Ordinal)
            || ns.StartsWith("System.Reflection", StringComparison.Ordinal)
            || type == typeof(IServiceProvider));
    }
}
