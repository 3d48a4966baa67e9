using System.Text;
using CometMpm.Configuration;

namespace CometMpm.Tests;

public sealed class ServerAddressTests
{
    private static string Key(string json, bool pad = false)
    {
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(json));
        return "key*" + (pad ? encoded : encoded.TrimEnd('='));
    }

    [Fact]
    public void From_NothingConfigured_UsesCometCom()
    {
        Assert.Equal("https://www.comet.com/mpm/", ServerAddress.From("plain", null, "/mpm/").MpmBase.ToString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void From_KeyWithBaseUrl_UsesItsRoot(bool padded)
    {
        var address = ServerAddress.From(Key("""{"baseUrl": "http://onprem.example:8080/some/path"}""", padded), null, "/mpm/");
        Assert.Equal("http://onprem.example:8080/mpm/", address.MpmBase.ToString());
        Assert.Null(address.Warning);
    }

    [Fact]
    public void From_OverrideAndKeyDisagree_OverrideWinsWithWarning()
    {
        var address = ServerAddress.From(Key("""{"baseUrl": "http://a.example"}"""), new Uri("http://b.example/x/y"), "mpm");
        Assert.Equal("http://b.example/mpm/", address.MpmBase.ToString());
        Assert.Contains("override is used", address.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void From_UnparseableKey_WarnsWithoutRevealingTheKey()
    {
        var address = ServerAddress.From("secret-part*a*b", null, "/mpm/");
        Assert.Equal("https://www.comet.com/mpm/", address.MpmBase.ToString());
        Assert.NotNull(address.Warning);
        Assert.DoesNotContain("secret-part", address.Warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("key*")]
    [InlineData("key*!!!notbase64")]
    [InlineData("key*e30")] // {} : no baseUrl
    public void From_BadSuffix_FallsBackToDefault(string key)
    {
        Assert.Equal("https://www.comet.com/mpm/", ServerAddress.From(key, null, "/mpm/").MpmBase.ToString());
    }
}
