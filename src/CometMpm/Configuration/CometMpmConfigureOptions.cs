using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace CometMpm.Configuration;

/// <summary>
/// Fills the options from the <c>COMET_*</c> environment variables, then from configuration (the
/// <c>CometMpm</c> section, or the section given to <c>AddCometMpm</c>), so configuration wins.
/// Registered once and before any code-based configuration, which therefore wins over both.
/// </summary>
internal sealed class CometMpmConfigureOptions(
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
        EnvironmentSettings.Apply(options, Environment.GetEnvironmentVariable, environmentErrors.Reset(name));

        var explicitSection = registrations.LastOrDefault(r => r.Name == name && r.Section is not null)?.Section;
        var section = explicitSection ?? configuration?.GetSection(CometMpmOptions.SectionName);
        if (section is not null)
        {
            section.Bind(options);
        }

        // A named client shares the common settings and overrides them in CometMpm:Models:{name}.
        if (name.Length > 0 && configuration?.GetSection(SectionFor(name)) is { } modelSection)
        {
            modelSection.Bind(options);
        }
    }
}
