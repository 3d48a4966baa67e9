namespace CometMpm.Configuration;

/// <summary>Marks a client name registered through <c>AddCometMpm</c>, and the configuration it binds.</summary>
internal sealed record CometMpmRegistration(string Name, Microsoft.Extensions.Configuration.IConfiguration? Section);
