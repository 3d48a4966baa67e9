using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace CometMpm.Configuration;

/// <summary>
/// Fills the options from the <c>COMET_*</c> environment variables, then from configuration (the
/// <c>CometMpm</c> section, or the section given to <c>AddCometMpm</c>), so configuration wins.
/// Registered once and before any code-based configuration, which therefore wins over both.
/// </summary>
internal sealed partial class CometMpmConfigureOptions(
    IEnumerable<CometMpmRegistration> registrations,
    EnvironmentErrors environmentErrors,
    IConfiguration? configuration = null) : IConfigureNamedOptions<CometMpmOptions>
{
    public void Configure(CometMpmOptions options) => Configure(Options.DefaultName, options);

    /// <summary>The configuration section of a client: <c>CometMpm</c>, or <c>CometMpm:Models:{name}</c> for a named one.</summary>
    internal static string SectionFor(string? name) =>
        string.IsNullOrEmpty(name) ? CometMpmOptions.SectionName : $"{CometMpmOptions.SectionName}:Models:{name}";

    public void Configure(string? name, CometMpmOptions options)
    {
        name ??= Options.DefaultName;
        var errors = environmentErrors.Reset(name);
        EnvironmentSettings.Apply(options, Environment.GetEnvironmentVariable, errors);

        var explicitSection = registrations.LastOrDefault(r => r.Name == name && r.Section is not null)?.Section;
        var section = explicitSection ?? configuration?.GetSection(CometMpmOptions.SectionName);
        if (section is not null)
        {
            Bind(section, (section as IConfigurationSection)?.Path ?? CometMpmOptions.SectionName, options, errors);
        }

        // A named client shares the common settings and overrides them in CometMpm:Models:{name}.
        if (name.Length > 0 && configuration?.GetSection(SectionFor(name)) is { } modelSection)
        {
            Bind(modelSection, modelSection.Path, options, errors);
        }
    }

    /// <summary>
    /// Binds a section; a value that cannot be read as its setting's type ("ten" for a number) is reported (the validator
    /// fails start with it, as an <see cref="OptionsValidationException"/> naming the key) and the rest is still bound.
    /// </summary>
    private static void Bind(IConfiguration section, string path, CometMpmOptions options, ICollection<string> errors)
    {
        try
        {
            section.Bind(options);
            return;
        }
        catch (InvalidOperationException)
        {
        }

        var values = section.AsEnumerable(makePathsRelative: true).Where(v => v.Value is not null).ToDictionary(v => v.Key, v => v.Value, StringComparer.OrdinalIgnoreCase);
        for (var attempt = 0; attempt <= values.Count; attempt++)
        {
            try
            {
                new ConfigurationBuilder().AddInMemoryCollection(values).Build().Bind(options);
                return;
            }
            catch (InvalidOperationException ex) when (ConversionFailure().Match(ex.Message) is { Success: true } failure && values.ContainsKey(failure.Groups["key"].Value))
            {
                var key = failure.Groups["key"].Value;
                errors.Add($"{path}:{key} is '{values[key]}', which is not {Expected(failure.Groups["type"].Value)}: correct it in appsettings.json (or the environment variable {path.Replace(":", "__", StringComparison.Ordinal)}__{key.Replace(":", "__", StringComparison.Ordinal)})");
                values.Remove(key);
            }
        }
    }

    private static string Expected(string type) => type switch
    {
        "System.Int32" or "System.Int64" => "a whole number",
        "System.Double" => "a number (with a dot as the decimal separator)",
        "System.Boolean" => "true or false",
        "System.TimeSpan" => "a duration such as 00:00:30 (hours:minutes:seconds)",
        "System.Uri" => "a URL such as https://www.comet.com/",
        "CometMpm.FullQueuePolicy" => "one of DropNewest, DropOldest or Wait",
        _ => $"a {type}",
    };

    [GeneratedRegex(@"at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex ConversionFailure();
}
