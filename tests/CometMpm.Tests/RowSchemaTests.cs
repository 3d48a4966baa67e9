namespace CometMpm.Tests;

/// <summary>Rows logged through one mapping share one schema per section (names encoded once), and a section that grows gets a new one.</summary>
public sealed class RowSchemaTests
{
    private sealed record Txn(string Id, double Amount, string Country, bool Fraud);

    [Fact]
    public void SchemaOf_IsSharedAcrossRows_AndFollowsASectionThatGrows()
    {
        var mapping = new RowMapping<Txn>(t => t.Id).Features(nameof(Txn.Amount)).Labels(nameof(Txn.Fraud));

        var first = mapping.SchemaOf(mapping.FeatureSelectors);
        Assert.Same(first, mapping.SchemaOf(mapping.FeatureSelectors));
        Assert.Equal([nameof(Txn.Amount)], first.Names);
        Assert.Equal([nameof(Txn.Fraud)], mapping.SchemaOf(mapping.LabelSelectors).Names);

        mapping.Features(nameof(Txn.Country));
        Assert.Equal([nameof(Txn.Amount), nameof(Txn.Country)], mapping.SchemaOf(mapping.FeatureSelectors).Names);
    }
}
