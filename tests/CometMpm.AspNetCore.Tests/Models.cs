using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;

namespace CometMpm.AspNetCore.Tests;

public enum Channel
{
    Web,
    Store,
}

public sealed record Address(string City, string Country);

public sealed record Transaction(
    double Amount,
    [property: JsonPropertyName("merchant_id")] string MerchantId,
    Channel Channel,
    bool CardPresent,
    Address? Address,
    int[] RecentAmounts,
    [property: CometMpmIgnore] string? CardNumber,
    [property: CometMpmFeature("hour")] int HourOfDay,
    [property: JsonIgnore] string? Secret);

public sealed record Score(double Probability, string Decision);

public sealed class LoanApplication
{
    public decimal Income { get; set; }

    public int Age { get; set; }

    public DateOnly AppliedOn { get; set; }

    [CometMpmPredictionId]
    public string? ApplicationId { get; set; }

    [CometMpmFeature("tags")]
    public List<string> Tags { get; set; } = [];
}

public sealed class QueryInput
{
    [FromQuery(Name = "amount")]
    public double Amount { get; set; }

    [FromRoute(Name = "country")]
    public string Country { get; set; } = "";
}

public sealed class ThrowingInput
{
    public int Good { get; set; } = 1;

    public int Bad => throw new InvalidOperationException("getter failure");
}
