using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using CometMpm.Events;

namespace CometMpm;

/// <summary>
/// How each row of type <typeparamref name="T"/> becomes a prediction event: a selector for the prediction id and
/// named selectors for features, outputs and labels, chosen by property name or by a function.
/// <code>
/// var mapping = new RowMapping&lt;Txn&gt;(t =&gt; t.Id)
///     .Features(nameof(Txn.Amount), nameof(Txn.Country))
///     .Output("value", t =&gt; t.Score &gt; 0.5 ? "fraud" : "legit")
///     .Timestamp(t =&gt; t.UnixSeconds);
/// </code>
/// </summary>
/// <typeparam name="T">The row type.</typeparam>
public sealed class RowMapping<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>
{
    private readonly List<KeyValuePair<string, Func<T, object?>>> _features = [];
    private readonly List<KeyValuePair<string, Func<T, object?>>> _outputs = [];
    private readonly List<KeyValuePair<string, Func<T, object?>>> _labels = [];
    private readonly FeatureSchema?[] _schemas = new FeatureSchema?[3];

    /// <summary>Creates a mapping.</summary>
    /// <param name="predictionId">Selects the row's prediction id (sent as a string; a row whose id is null is rejected).</param>
    public RowMapping(Func<T, object?> predictionId)
    {
        ArgumentNullException.ThrowIfNull(predictionId);
        PredictionId = predictionId;
    }

    /// <summary>Creates a mapping whose columns are the public properties of <typeparamref name="T"/> named in <paramref name="columns"/>.</summary>
    /// <param name="columns">The column (property) names, as in the Python <c>log_dataframe</c>.</param>
    /// <returns>The mapping.</returns>
    /// <exception cref="ArgumentException">A named property does not exist.</exception>
    public static RowMapping<T> FromColumns(RowColumns columns) => FromColumns(columns, Property);

    /// <summary>
    /// A mapping from named columns of any row shape: <paramref name="column"/> turns a column name into a reader of
    /// that column (it may throw <see cref="ArgumentException"/> for an unknown name).
    /// </summary>
    /// <param name="columns">The column names, with the arguments of the Python <c>log_dataframe</c>.</param>
    /// <param name="column">Makes the reader of a named column.</param>
    /// <returns>The mapping.</returns>
    public static RowMapping<T> FromColumns(RowColumns columns, Func<string, Func<T, object?>> column)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(column);
        var mapping = new RowMapping<T>(column(columns.PredictionIdColumn));
        foreach (var name in columns.FeatureColumns ?? [])
        {
            mapping.Feature(name, column(name));
        }

        foreach (var name in columns.OutputFeaturesColumns ?? [])
        {
            mapping.Output(name, column(name));
        }

        foreach (var name in columns.LabelsColumns ?? [])
        {
            mapping.Label(name, column(name));
        }

        if (columns.OutputValueColumn is { } value)
        {
            mapping.OutputValue(column(value));
        }

        if (columns.OutputProbabilityColumn is { } probability)
        {
            mapping.OutputProbability(column(probability));
        }

        if (columns.TimestampColumn is { } timestamp)
        {
            mapping.Timestamp(column(timestamp));
        }

        return mapping;
    }

    internal Func<T, object?> PredictionId { get; }

    internal IReadOnlyList<KeyValuePair<string, Func<T, object?>>> FeatureSelectors => _features;

    internal IReadOnlyList<KeyValuePair<string, Func<T, object?>>> OutputSelectors => _outputs;

    internal IReadOnlyList<KeyValuePair<string, Func<T, object?>>> LabelSelectors => _labels;

    internal Func<T, object?>? OutputValueSelector { get; private set; }

    internal Func<T, object?>? OutputProbabilitySelector { get; private set; }

    internal Func<T, object?>? TimestampSelector { get; private set; }

    /// <summary>Adds an input feature. When a mapping has no features, no <c>features</c> are sent.</summary>
    /// <param name="name">The feature's name.</param>
    /// <param name="selector">Selects its value: a string, bool, number or null (NaN is sent as null).</param>
    /// <returns>This mapping.</returns>
    public RowMapping<T> Feature(string name, Func<T, object?> selector) => Add(_features, name, selector);

    /// <summary>Adds input features read from the public properties of these names (the names are sent unchanged).</summary>
    /// <param name="propertyNames">The property names.</param>
    /// <returns>This mapping.</returns>
    public RowMapping<T> Features(params string[] propertyNames) => AddProperties(_features, propertyNames);

    /// <summary>Adds an output feature (sent in <c>prediction</c>).</summary>
    /// <param name="name">The output's name, e.g. <c>value</c> or <c>probability</c>.</param>
    /// <param name="selector">Selects its value.</param>
    /// <returns>This mapping.</returns>
    public RowMapping<T> Output(string name, Func<T, object?> selector) => Add(_outputs, name, selector);

    /// <summary>Adds output features read from the public properties of these names.</summary>
    /// <param name="propertyNames">The property names.</param>
    /// <returns>This mapping.</returns>
    public RowMapping<T> Outputs(params string[] propertyNames) => AddProperties(_outputs, propertyNames);

    /// <summary>Adds a label (sent inline in <c>labels</c>).</summary>
    /// <param name="name">The label's name.</param>
    /// <param name="selector">Selects its value.</param>
    /// <returns>This mapping.</returns>
    public RowMapping<T> Label(string name, Func<T, object?> selector) => Add(_labels, name, selector);

    /// <summary>Adds labels read from the public properties of these names.</summary>
    /// <param name="propertyNames">The property names.</param>
    /// <returns>This mapping.</returns>
    public RowMapping<T> Labels(params string[] propertyNames) => AddProperties(_labels, propertyNames);

    /// <summary>Deprecated mapping of the Python <c>output_value_column</c>: the value becomes the output <c>value</c>,
    /// merged with the outputs as protocol §4.5 describes. Prefer <see cref="Output"/> with the name <c>value</c>.</summary>
    /// <param name="selector">Selects the value.</param>
    /// <returns>This mapping.</returns>
    public RowMapping<T> OutputValue(Func<T, object?> selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        OutputValueSelector = selector;
        return this;
    }

    /// <summary>Deprecated mapping of the Python <c>output_probability_column</c>: a number within 0..1 that becomes the
    /// output <c>probability</c>. Prefer <see cref="Output"/> with the name <c>probability</c>.</summary>
    /// <param name="selector">Selects the probability.</param>
    /// <returns>This mapping.</returns>
    public RowMapping<T> OutputProbability(Func<T, object?> selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        OutputProbabilitySelector = selector;
        return this;
    }

    /// <summary>Sets the row's timestamp: a number of <b>seconds</b> since the Unix epoch (sent as <c>(long)(seconds * 1000.0)</c> ms),
    /// a <see cref="DateTimeOffset"/> or a <see cref="DateTime"/> (UTC when unspecified). Null or NaN: the time of logging.</summary>
    /// <param name="selector">Selects the timestamp.</param>
    /// <returns>This mapping.</returns>
    public RowMapping<T> Timestamp(Func<T, object?> selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        TimestampSelector = selector;
        return this;
    }

    /// <summary>
    /// The names of a section as one schema shared by every row (encoded once by the serializer). Sections only grow,
    /// so a schema of another length is stale and made again.
    /// </summary>
    internal FeatureSchema SchemaOf(IReadOnlyList<KeyValuePair<string, Func<T, object?>>> selectors)
    {
        var slot = ReferenceEquals(selectors, _features) ? 0 : ReferenceEquals(selectors, _outputs) ? 1 : 2;
        var schema = _schemas[slot];
        if (schema is null || schema.Count != selectors.Count)
        {
            var names = new string[selectors.Count];
            for (var i = 0; i < names.Length; i++)
            {
                names[i] = selectors[i].Key;
            }

            schema = new FeatureSchema(names);
            _schemas[slot] = schema;
        }

        return schema;
    }

    private RowMapping<T> Add(List<KeyValuePair<string, Func<T, object?>>> section, string name, Func<T, object?> selector)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(selector);
        if (section.Exists(s => s.Key == name))
        {
            throw new ArgumentException($"'{name}' is mapped twice in the same section.", nameof(name));
        }

        section.Add(new(name, selector));
        return this;
    }

    private RowMapping<T> AddProperties(List<KeyValuePair<string, Func<T, object?>>> section, string[] propertyNames)
    {
        ArgumentNullException.ThrowIfNull(propertyNames);
        foreach (var name in propertyNames)
        {
            Add(section, name, Property(name));
        }

        return this;
    }

    private static Func<T, object?> Property(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var property = typeof(T).GetProperty(name, BindingFlags.Public | BindingFlags.Instance);
        if (property?.GetMethod is null || property.GetIndexParameters().Length > 0)
        {
            var available = string.Join(", ", typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name));
            throw new ArgumentException($"{typeof(T).Name} has no public readable property '{name}' (it has: {available}).", nameof(name));
        }

        return row => property.GetValue(row);
    }
}
