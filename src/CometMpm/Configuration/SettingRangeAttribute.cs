using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace CometMpm.Configuration;

/// <summary>
/// The bounds of a numeric or duration setting, evaluated at start by the generated options validator. Its message starts
/// with the setting's key relative to its section (the caller puts the section in front), so it names the key, the value,
/// the bounds and the environment variable, as every configuration error must.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
internal sealed class SettingRangeAttribute : ValidationAttribute
{
    private readonly long _minimum;
    private readonly long _maximum;
    private readonly TimeSpan _minimumDuration;
    private readonly TimeSpan _maximumDuration;
    private readonly bool _isDuration;

    /// <summary>Bounds of a whole-number setting.</summary>
    public SettingRangeAttribute(long minimum, long maximum)
    {
        _minimum = minimum;
        _maximum = maximum;
    }

    /// <summary>Bounds of a duration, written as TimeSpans (<c>"00:00:00.001"</c>, <c>"1.00:00:00"</c>).</summary>
    public SettingRangeAttribute(string minimum, string maximum)
    {
        _minimumDuration = TimeSpan.Parse(minimum, CultureInfo.InvariantCulture);
        _maximumDuration = TimeSpan.Parse(maximum, CultureInfo.InvariantCulture);
        _isDuration = true;
    }

    /// <summary>The <c>COMET_*</c> variable that also sets this setting, if any (durations are given there in seconds).</summary>
    public string? EnvironmentVariable { get; set; }

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        var key = validationContext.MemberName;
        switch (value)
        {
            case TimeSpan duration when _isDuration:
                if (duration >= _minimumDuration && duration <= _maximumDuration)
                {
                    return ValidationResult.Success;
                }

                // "MaxBatchTime": "5" is five days to .NET: say so when a whole number of days looks like that mistake.
                var bareNumber = duration > TimeSpan.Zero && duration.Ticks % TimeSpan.TicksPerDay == 0
                    ? $"; '{duration.Days}' alone is read as {duration.Days} days: write 00:00:{Math.Min(duration.Days, 59):D2} for {duration.Days} seconds"
                    : "";
                var variable = EnvironmentVariable is null ? "" : $"; environment variable {EnvironmentVariable} in seconds";
                return new ValidationResult($"{key} is {duration} but must be between {_minimumDuration} and {_maximumDuration} (a TimeSpan such as 00:00:30{variable}{bareNumber}).");
            case int or long when !_isDuration:
                var number = Convert.ToInt64(value, CultureInfo.InvariantCulture);
                if (number >= _minimum && number <= _maximum)
                {
                    return ValidationResult.Success;
                }

                var bounds = _maximum == long.MaxValue ? $"at least {_minimum}" : $"between {_minimum} and {_maximum}";
                var environment = EnvironmentVariable is null ? "" : $" (environment variable {EnvironmentVariable})";
                return new ValidationResult($"{key} is {number} but must be {bounds}{environment}.");
            default:
                // A bound on a setting of another type is a mistake in this library, not in the user's configuration.
                throw new InvalidOperationException($"SettingRange on {key} does not fit its type {value?.GetType().Name ?? "null"}.");
        }
    }
}
