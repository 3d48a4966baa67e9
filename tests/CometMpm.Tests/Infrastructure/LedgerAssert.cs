using System.Text.Json;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace CometMpm.Tests.Infrastructure;

/// <summary>
/// The settlement invariant of the architecture: every accepted event is delivered, dropped under a reason, waiting in
/// the outbox, or still queued: <c>accepted = delivered + dropped + in outbox + queued</c>.
/// </summary>
/// <remarks>
/// It is checked twice: from the client's own <see cref="CometMpm.Diagnostics.SettlementLedger"/> snapshot (refusals at
/// the call are never in it), and from the outside, from the metrics <see cref="TestClient"/> collects from the moment its host is
/// built (<c>cometmpm.events.enqueued</c> = accepted, <c>.sent</c> = delivered, <c>.dropped</c> = dropped), the outbox
/// files on disk (the lengths of the <c>data</c> arrays of <c>ready/*.json</c> and <c>processing/**/*.json</c>; files set
/// aside as corrupt are not events of this client) and <c>Queue.Count</c>. Its limitations, until it is replaced by the
/// client's own ledger snapshot:
/// <list type="bullet">
/// <item><c>cometmpm.events.dropped</c> also counts events refused at the call (invalid input, disabled, ended, a full
/// queue under DropNewest), which were never accepted, under the same tags as drops after acceptance (an event the
/// backend refused is <c>invalid</c> too). The test passes the number of calls whose <see cref="LogResult"/> was not
/// accepted as <c>refusedAtCall</c>; they are taken off the dropped total.</item>
/// <item>Events read back from an outbox that another client (or process) wrote are delivered or dropped here without
/// having been accepted here: pass their number as <c>inheritedFromOutbox</c>.</item>
/// <item>Pending is the queue plus the batch in the worker's hands; metrics and files are read one after the other, so
/// call this once the client is settled (after <c>FlushAsync</c>/<c>EndAsync</c> returned, or after waiting for the outcome).</item>
/// <item>The outbox count is for the whole directory: when several clients share one, call it for one of them with
/// the others' events as <c>inheritedFromOutbox</c>, or not at all.</item>
/// </list>
/// </remarks>
public static class LedgerAssert
{
    public static void Balanced(TestClient client, string? outboxDirectory = null, long refusedAtCall = 0, long inheritedFromOutbox = 0)
    {
        var ledger = client.Client.Ledger;
        Assert.True(ledger.Unaccounted == -inheritedFromOutbox, $"Ledger unbalanced ({inheritedFromOutbox} inherited from the outbox): {ledger}");

        // The outside view reads metrics, then the files of two folders one after the other: a file moved between them
        // (a journaled batch released to ready/, a lease) is missed or seen twice, so it is read again until it settles.
        long accepted = 0, delivered = 0, droppedAll = 0, dropped = 0, inOutbox = 0, queued = 0;
        for (var attempt = 0; attempt < 30; attempt++)
        {
            accepted = client.Enqueued.Total();
            delivered = client.Sent.Total();
            droppedAll = client.Dropped.Total();
            dropped = droppedAll - refusedAtCall;
            inOutbox = outboxDirectory is null ? 0 : EventsInOutbox(outboxDirectory);
            queued = client.Client.Ledger.Pending;
            if (accepted + inheritedFromOutbox == delivered + dropped + inOutbox + queued)
            {
                return;
            }

            Thread.Sleep(100);
        }

        var byReason = string.Join(", ", client.Dropped.ByReason().Select(r => $"{r.Key}={r.Value}"));
        Assert.True(
            accepted + inheritedFromOutbox == delivered + dropped + inOutbox + queued,
            $"Ledger unbalanced: accepted {accepted} + inherited from the outbox {inheritedFromOutbox} != delivered {delivered} + dropped {dropped} "
            + $"(all drops {droppedAll} [{byReason}] - refused at the call {refusedAtCall}) + in outbox {inOutbox} + queued {queued}.");
    }

    /// <summary>The events in an outbox directory: complete batches waiting (ready/) or leased (processing/*/).</summary>
    public static long EventsInOutbox(string directory)
    {
        long count = 0;
        var ready = Path.Combine(directory, "ready");
        var processing = Path.Combine(directory, "processing");
        var files = (Directory.Exists(ready) ? Directory.GetFiles(ready, "*.json") : [])
            .Concat(Directory.Exists(processing) ? Directory.GetFiles(processing, "*.json", SearchOption.AllDirectories) : []);
        foreach (var file in files)
        {
            try
            {
                using var document = JsonDocument.Parse(File.ReadAllBytes(file));
                if (document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("data", out var data)
                    && data.ValueKind == JsonValueKind.Array)
                {
                    count += data.GetArrayLength();
                }
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or JsonException)
            {
                // Leased, replayed or set aside meanwhile, or not a batch at all.
            }
        }

        return count;
    }
}

public static class MetricCollectorExtensions
{
    /// <summary>The sum of every measurement so far.</summary>
    public static long Total(this MetricCollector<long> collector) => collector.GetMeasurementSnapshot().Sum(m => m.Value);
}
