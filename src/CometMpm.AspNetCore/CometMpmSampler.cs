namespace CometMpm.AspNetCore;

/// <summary>
/// The sampling rule of the capture: deterministic on the prediction id, so the same id is always in or out at a
/// given rate and a late label follows its prediction without any state. The id's UTF-16 code units are hashed with
/// 64-bit FNV-1a and the hash is mapped to [0, 1); the id is sampled in when that number is below the rate.
/// </summary>
public static class CometMpmSampler
{
    private const ulong FnvOffsetBasis = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    /// <summary>Whether a prediction id is sampled in at a rate.</summary>
    /// <param name="predictionId">The prediction id.</param>
    /// <param name="rate">The share of ids sampled in, from 0 (none) to 1 (all).</param>
    /// <returns>True when the id is sampled in.</returns>
    public static bool IsSampled(string predictionId, double rate)
    {
        ArgumentNullException.ThrowIfNull(predictionId);
        if (rate >= 1.0)
        {
            return true;
        }

        if (!(rate > 0.0))
        {
            return false;
        }

        return Position(predictionId) < rate;
    }

    /// <summary>The id's position in [0, 1).</summary>
    internal static double Position(string predictionId)
    {
        var hash = FnvOffsetBasis;
        foreach (var c in predictionId)
        {
            hash = (hash ^ (byte)c) * FnvPrime;
            hash = (hash ^ (byte)(c >> 8)) * FnvPrime;
        }

        // A final avalanche (the splitmix64 finalizer) spreads ids that differ only in their last characters.
        hash ^= hash >> 30;
        hash *= 0xbf58476d1ce4e5b9UL;
        hash ^= hash >> 27;
        hash *= 0x94d049bb133111ebUL;
        hash ^= hash >> 31;
        return (hash >> 11) * (1.0 / (1UL << 53));
    }
}
