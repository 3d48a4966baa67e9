namespace CometMpm.Benchmarks.Models;

public enum Segment
{
    Retail,
    Business,
}

/// <summary>The model input of the capture benchmark and the load scenario: 10 scalar properties.</summary>
public sealed record LoanRequest(
    double Amount,
    double Income,
    double DebtRatio,
    double CreditScore,
    int Age,
    int TermMonths,
    string Country,
    string Purpose,
    bool HasCollateral,
    Segment Segment);

public sealed record LoanDecision(double Probability, string Decision);
