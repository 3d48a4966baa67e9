using CometMpm.Serialization;

namespace CometMpm.Delivery;

/// <summary>A part of a payload given up by a link, with the reason and the backend's words.</summary>
internal sealed record DroppedPart(BatchPayload Payload, string Reason, string Detail);

/// <summary>
/// What became of a payload's events: delivered + spilled + dropped + unsent = the payload's count. Unsent parts carry
/// one status (the first failure stops a chain, so parts after it share it).
/// </summary>
internal sealed class DeliveryReport
{
    public int Delivered { get; private set; }

    public int Spilled { get; private set; }

    public List<DroppedPart> Dropped { get; } = [];

    public List<BatchPayload> Unsent { get; } = [];

    public SendStatus UnsentStatus { get; private set; }

    public int HttpStatus { get; private set; }

    public string Detail { get; private set; } = "";

    public int Settled => Delivered + Spilled + Dropped.Sum(d => d.Payload.Count);

    public static DeliveryReport OfDelivered(int count) => new() { Delivered = count };

    public static DeliveryReport OfSpilled(int count) => new() { Spilled = count };

    public static DeliveryReport OfDropped(BatchPayload payload, string reason, string detail)
    {
        var report = new DeliveryReport();
        report.Dropped.Add(new DroppedPart(payload, reason, detail));
        return report;
    }

    public static DeliveryReport OfUnsent(BatchPayload payload, SendStatus status, int httpStatus, string detail)
    {
        var report = new DeliveryReport { UnsentStatus = status, HttpStatus = httpStatus, Detail = detail };
        report.Unsent.Add(payload);
        return report;
    }

    /// <summary>Adds what happened to another part of the same payload.</summary>
    public DeliveryReport Add(DeliveryReport other)
    {
        Delivered += other.Delivered;
        Spilled += other.Spilled;
        Dropped.AddRange(other.Dropped);
        if (other.Unsent.Count > 0)
        {
            if (Unsent.Count == 0)
            {
                (UnsentStatus, HttpStatus, Detail) = (other.UnsentStatus, other.HttpStatus, other.Detail);
            }

            Unsent.AddRange(other.Unsent);
        }

        return this;
    }

    /// <summary>Adds a part that was not tried because an earlier part failed for a reason it would share.</summary>
    public DeliveryReport AlsoUnsent(BatchPayload payload)
    {
        Unsent.Add(payload);
        return this;
    }

    /// <summary>Takes the unsent parts out (a link that places them elsewhere, such as the outbox).</summary>
    public List<BatchPayload> TakeUnsent()
    {
        var unsent = new List<BatchPayload>(Unsent);
        Unsent.Clear();
        UnsentStatus = SendStatus.None;
        return unsent;
    }
}
